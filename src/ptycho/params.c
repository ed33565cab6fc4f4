/* The ptycho engine's parameters, described once for the CLI and Python. */
#include <stddef.h>

#include "fastsci/ptycho.h"

#define F(x) offsetof(fsci_ptycho_opts, x)

const fsci_param fsci_ptycho_params[FSCI_PTYCHO_NPARAMS] = {
    {"n-images", FSCI_PARAM_INT, F(n_images), "0", 0, 1e8, NULL,
     "random scan positions (and groups unless --n-groups is given); 0: 5000, or the count of --positions"},
    {"n-groups", FSCI_PARAM_INT, F(n_groups), "0", 0, 1e9, NULL,
     "groups B (PtychoPINN's nsamples); 0: --n-images"},
    {"gridsize", FSCI_PARAM_INT, F(gridsize), "2", 1, 16, NULL, "C = gridsize^2 patterns per group"},
    {"K", FSCI_PARAM_INT, F(K), "4", 1, 1023, NULL, "nearest-neighbour pool of a group (K >= C)"},
    {"N", FSCI_PARAM_INT, F(N), "64", 4, 4096, NULL, "pattern side in pixels"},
    {"nphotons", FSCI_PARAM_DOUBLE, F(nphotons), "1e9", 1e-6, 1e13, NULL,
     "expected photons per pattern, averaged over the dataset"},
    {"object", FSCI_PARAM_STRING, F(object), "lines", 0, -1, NULL,
     "lines | star | FILE.npy (complex 2-D) | FILE.npz (objectGuess)"},
    {"probe", FSCI_PARAM_STRING, F(probe), "disk", 0, -1, NULL,
     "disk | FILE.npy (complex N x N) | FILE.npz (probeGuess)"},
    {"positions", FSCI_PARAM_STRING, F(positions), "random", 0, -1, NULL,
     "random (uniform, N/2 from the edges) | FILE.npz (xcoords, ycoords in pixels)"},
    {"object-size", FSCI_PARAM_INT, F(object_size), "0", 0, 65536, NULL,
     "side of a built-in object; 0: round(3.5 N)"},
    {"probe-scale", FSCI_PARAM_DOUBLE, F(probe_scale), "0.7", 0.01, 100, NULL,
     "low-pass scale of the disk probe"},
    {"noise", FSCI_PARAM_BOOL, F(noise), "true", 0, -1, NULL, "Poisson photon noise"},
    {"raw", FSCI_PARAM_BOOL, F(raw), "true", 0, -1, NULL, "also simulate diff3d at every scan position"},
    {"oversampling", FSCI_PARAM_BOOL, F(oversampling), "false", 0, -1, NULL,
     "allow more groups than positions (K-choose-C pool)"},
    {"pool-size", FSCI_PARAM_INT, F(pool_size), "0", 0, 1023, NULL, "neighbour pool for oversampling; 0: K"},
    {"layout", FSCI_PARAM_CHOICE, F(layout), "channel", 0, -1, "channel|flat",
     "channel (B,N,N,C) or flat (B*C,N,N) for diffraction, Y and X_full"},
    {"compress", FSCI_PARAM_BOOL, F(compress), "false", 0, -1, NULL, "deflate the .npz members"},
};

/* The header's count must be the number of entries above. */
_Static_assert(sizeof fsci_ptycho_params / sizeof fsci_ptycho_params[0] == FSCI_PTYCHO_NPARAMS,
               "FSCI_PTYCHO_NPARAMS");
