/* Philox4x64-10 counter-based generator and its samplers (uniform, normal,
 * Poisson) with thread-count-independent bulk fills. See doc/rng.md.
 *
 * The block function is Random123's philox4x64_R (Salmon, Moraes, Dror, Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3", SC'11). The counter handling
 * (increment first, then encrypt, return the block's words in order) follows
 * numpy.random.Philox so that raw streams are identical. The samplers are
 * written here because they are the hot kernels of every noise model:
 *   - normal: 256-layer ziggurat (G. Marsaglia, W. W. Tsang, "The ziggurat
 *     method for generating random variables", J. Stat. Softw. 5(8), 2000) with
 *     Marsaglia's exact tail algorithm (Technometrics 6, 1964);
 *   - Poisson, small mean: inversion by sequential search of the CDF, with a
 *     guide table when the mean is shared by many draws, and a table of
 *     (mean, uniform) cells of constant result when every element has its
 *     own mean;
 *   - Poisson, mean >= 10: PTRS transformed rejection (W. Hoermann, "The
 *     transformed rejection method for generating Poisson random variables",
 *     Insurance: Mathematics and Economics 12 (1993) 39-45), whose final test
 *     uses a cancellation-free log-pmf (C. Loader, "Fast and accurate
 *     computation of binomial probabilities", 2000: bd0 and stirlerr) behind
 *     an exp- and log-free squeeze that decides it exactly almost always.
 * Both Poisson methods are exact; the fast paths only skip work whose result
 * they can prove (the tests check each against the path it replaces). */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include <Random123/philox.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/parallel.h"
#include "fastsci/core/rng.h"
#include "rng_impl.h"

/* ---------------------------------------------------------------- tables */

/* Generated with mpmath at 60 digits from the definitions in rng_impl.h:
 * R = 3.654152885361008771645429, V = 0.004928673233974655347361775. */
/* clang-format off */
const double fsci__rng_zig_x[FSCI__RNG_ZIG_N + 1] = {
    0x1.f493b7815d982p+1, 0x1.d3bb48209ad33p+1, 0x1.b981f3878fdb0p+1, 0x1.a8fdc78947759p+1,
    0x1.9cbee014057aap+1, 0x1.92ee0946f4496p+1, 0x1.8ab0fbfaa7c14p+1, 0x1.839030529f233p+1,
    0x1.7d42df4d6ce8bp+1, 0x1.7799556090672p+1, 0x1.72728f05f7a33p+1, 0x1.6db6b8d09e231p+1,
    0x1.69540be9fe5c2p+1, 0x1.653ce7b006aeap+1, 0x1.61669cf861e4bp+1, 0x1.5dc8a243ad0fep+1,
    0x1.5a5c08b718dd9p+1, 0x1.571b1a94ae41cp+1, 0x1.54011523a7e43p+1, 0x1.5109f53e9ac42p+1,
    0x1.4e3250dcd8903p+1, 0x1.4b7739d6b5a28p+1, 0x1.48d62759c43bdp+1, 0x1.464ce44a73a16p+1,
    0x1.43d9815545e94p+1, 0x1.417a49cb9e5dbp+1, 0x1.3f2dbaa60f475p+1, 0x1.3cf27b31704a6p+1,
    0x1.3ac7570ae88fap+1, 0x1.38ab39256410ap+1, 0x1.369d27a33a840p+1, 0x1.349c405ae12a3p+1,
    0x1.32a7b5e68a4a3p+1, 0x1.30becd256aeeep+1, 0x1.2ee0db1a978f5p+1, 0x1.2d0d43196db97p+1,
    0x1.2b437532a0a53p+1, 0x1.2982ecd770e78p+1, 0x1.27cb2faa8592ep+1, 0x1.261bcc77658e0p+1,
    0x1.24745a4ac9c24p+1, 0x1.22d477a6fd3efp+1, 0x1.213bc9d04cc82p+1, 0x1.1fa9fc2e2d901p+1,
    0x1.1e1ebfbe4ae39p+1, 0x1.1c99ca971a695p+1, 0x1.1b1ad777f2f8fp+1, 0x1.19a1a564eebadp+1,
    0x1.182df74d21262p+1, 0x1.16bf93b9deef5p+1, 0x1.1556448602e3dp+1, 0x1.13f1d69c4096fp+1,
    0x1.129219bbb5d37p+1, 0x1.1136e04207043p+1, 0x1.0fdffefa69fb8p+1, 0x1.0e8d4cf116594p+1,
    0x1.0d3ea34aa3d32p+1, 0x1.0bf3dd1eed449p+1, 0x1.0aacd7571c0c5p+1, 0x1.0969708e8a255p+1,
    0x1.082988f632e18p+1, 0x1.06ed023a72669p+1, 0x1.05b3bf6adb37ep+1, 0x1.047da4e3ef5c7p+1,
    0x1.034a983a902abp+1, 0x1.021a8028fc947p+1, 0x1.00ed447d3a075p+1, 0x1.ff859c118f60bp+0,
    0x1.fd360d22fe785p+0, 0x1.faebb187122bfp+0, 0x1.f8a6604899782p+0, 0x1.f665f20c90168p+0,
    0x1.f42a40fb74d6dp+0, 0x1.f1f328ac25321p+0, 0x1.efc086101eca9p+0, 0x1.ed9237610a73ap+0,
    0x1.eb681c0f76f08p+0, 0x1.e94214b2abf09p+0, 0x1.e72002f97fe23p+0, 0x1.e501c99c1d186p+0,
    0x1.e2e74c4ea46f3p+0, 0x1.e0d06fb49d219p+0, 0x1.debd195522e34p+0, 0x1.dcad2f8fc490cp+0,
    0x1.daa0999206e6ep+0, 0x1.d8973f4d7fba4p+0, 0x1.d691096e7f123p+0, 0x1.d48de1533c647p+0,
    0x1.d28db1037ef20p+0, 0x1.d0906328b8f6ep+0, 0x1.ce95e3068e037p+0, 0x1.cc9e1c73bd690p+0,
    0x1.caa8fbd36a2abp+0, 0x1.c8b66e0eba617p+0, 0x1.c6c6608ec8705p+0, 0x1.c4d8c136e0d1dp+0,
    0x1.c2ed7e5f07a2dp+0, 0x1.c10486cec16a0p+0, 0x1.bf1dc9b81ae82p+0, 0x1.bd3936b2ec0a2p+0,
    0x1.bb56bdb85256ep+0, 0x1.b9764f1e5f73dp+0, 0x1.b797db93f8928p+0, 0x1.b5bb541ce3d04p+0,
    0x1.b3e0aa0e00c01p+0, 0x1.b207cf09a985cp+0, 0x1.b030b4fc3a11bp+0, 0x1.ae5b4e18bb338p+0,
    0x1.ac878cd5af5cfp+0, 0x1.aab563e9ff10ap+0, 0x1.a8e4c64a0313fp+0, 0x1.a715a724aa9a7p+0,
    0x1.a547f9e0bbb8bp+0, 0x1.a37bb21a2c85ep+0, 0x1.a1b0c39f93696p+0, 0x1.9fe7226fad24dp+0,
    0x1.9e1ec2b6f7414p+0, 0x1.9c5798cd5d92ep+0, 0x1.9a919933f99c1p+0, 0x1.98ccb892e2a33p+0,
    0x1.9708ebb70d5efp+0, 0x1.954627903a28bp+0, 0x1.9384612ef0afep+0, 0x1.91c38dc288349p+0,
    0x1.9003a2973b591p+0, 0x1.8e44951446a28p+0, 0x1.8c865aba10c9dp+0, 0x1.8ac8e9205c044p+0,
    0x1.890c35f47f72ep+0, 0x1.875036f7a7ec7p+0, 0x1.8594e1fd1f5bep+0, 0x1.83da2ce899f16p+0,
    0x1.82200dac88677p+0, 0x1.80667a486ea1fp+0, 0x1.7ead68c73dee7p+0, 0x1.7cf4cf3db22fcp+0,
    0x1.7b3ca3c8b140ap+0, 0x1.7984dc8babd94p+0, 0x1.77cd6faeff44ap+0, 0x1.7616535e57320p+0,
    0x1.745f7dc70eeddp+0, 0x1.72a8e516914c7p+0, 0x1.70f27f78b68ecp+0, 0x1.6f3c43161f856p+0,
    0x1.6d8626128d354p+0, 0x1.6bd01e8b343bdp+0, 0x1.6a1a22950b2b3p+0, 0x1.6864283b13139p+0,
    0x1.66ae257c99674p+0, 0x1.64f8104b7260dp+0, 0x1.6341de8a2b0a4p+0, 0x1.618b860a31fc5p+0,
    0x1.5fd4fc89f5e39p+0, 0x1.5e1e37b2f8cd4p+0, 0x1.5c672d17d733fp+0, 0x1.5aafd23241b5ap+0,
    0x1.58f81c60e8515p+0, 0x1.574000e555f79p+0, 0x1.558774e1bb2c9p+0, 0x1.53ce6d56a6650p+0,
    0x1.5214df20a8b5cp+0, 0x1.505abef5e5563p+0, 0x1.4ea001638a606p+0, 0x1.4ce49acb311ddp+0,
    0x1.4b287f602415ep+0, 0x1.496ba32488f30p+0, 0x1.47adf9e66c338p+0, 0x1.45ef773cac75ep+0,
    0x1.44300e83c30a6p+0, 0x1.426fb2da6745fp+0, 0x1.40ae571e09e76p+0, 0x1.3eebede725a85p+0,
    0x1.3d28698561de3p+0, 0x1.3b63bbfb83d06p+0, 0x1.399dd6fb2b267p+0, 0x1.37d6abe05586cp+0,
    0x1.360e2baca52d7p+0, 0x1.3444470265ea4p+0, 0x1.3278ee1f4b933p+0, 0x1.30ac10d6e48dap+0,
    0x1.2edd9e8cba990p+0, 0x1.2d0d862e1b855p+0, 0x1.2b3bb62b82edbp+0, 0x1.29681c719d71dp+0,
    0x1.2792a661dd381p+0, 0x1.25bb40ca96bfep+0, 0x1.23e1d7de9c322p+0, 0x1.2206572c4c6ecp+0,
    0x1.2028a9940a0a3p+0, 0x1.1e48b93e0d431p+0, 0x1.1c666f8f82acfp+0, 0x1.1a81b51ee6d8bp+0,
    0x1.189a71a78da37p+0, 0x1.16b08bfc42020p+0, 0x1.14c3e9f8e9143p+0, 0x1.12d4707310fc1p+0,
    0x1.10e20329515f1p+0, 0x1.0eec84b16086fp+0, 0x1.0cf3d664bcc83p+0, 0x1.0af7d84bc6116p+0,
    0x1.08f869071f40fp+0, 0x1.06f565b72a014p+0, 0x1.04eea9e16a5ffp+0, 0x1.02e40f5398f9dp+0,
    0x1.00d56e04234eep+0, 0x1.fd8537dfa2eb1p-1, 0x1.f956d9e87d7b2p-1, 0x1.f51f654d8f68cp-1,
    0x1.f0de784f0622ap-1, 0x1.ec93abdf982d2p-1, 0x1.e83e9337a6f04p-1, 0x1.e3debb5d2ee02p-1,
    0x1.df73aa9f17656p-1, 0x1.dafce0023b8c8p-1, 0x1.d679d29e41f14p-1, 0x1.d1e9f0e80b74bp-1,
    0x1.cd4c9fe72268fp-1, 0x1.c8a13a5323b66p-1, 0x1.c3e70f9594ef8p-1, 0x1.bf1d62abf8239p-1,
    0x1.ba4368e529f40p-1, 0x1.b558487427a2fp-1, 0x1.b05b16d136ca2p-1, 0x1.ab4ad6e101636p-1,
    0x1.a62676d77cd5fp-1, 0x1.a0eccdca4a731p-1, 0x1.9b9c98e38c54dp-1, 0x1.96347822c1ef0p-1,
    0x1.90b2ea94ecf9ep-1, 0x1.8b1649e7b769fp-1, 0x1.855cc53430a7dp-1, 0x1.7f845ad46f549p-1,
    0x1.798ad10b32a7ep-1, 0x1.736dad346f8adp-1, 0x1.6d2a292000576p-1, 0x1.66bd261a37c44p-1,
    0x1.60231cfd97ef1p-1, 0x1.59580a707ce9cp-1, 0x1.52575621ad379p-1, 0x1.4b1bb363dfeadp-1,
    0x1.439ef8dff9b5ap-1, 0x1.3bd9ec1a2b134p-1, 0x1.33c3fc05791fap-1, 0x1.2b52e3863d885p-1,
    0x1.227a28f7a1afap-1, 0x1.192a69741367dp-1, 0x1.0f5053b025d4ap-1, 0x1.04d32278ebbb4p-1,
    0x1.f32482d4cd5d0p-2, 0x1.dac2f5a747281p-2, 0x1.c004d2f386207p-2, 0x1.a230c2e4cd0cbp-2,
    0x1.801fce82fa71ap-2, 0x1.57cb938443b71p-2, 0x1.250af3c2c5bc6p-2, 0x1.b8d0be3fdf702p-3,
    0x0p+0
};

const double fsci__rng_zig_f[FSCI__RNG_ZIG_N + 1] = {
    0x0p+0, 0x1.4a605b6b9f70dp-10, 0x1.55f9f43c1b071p-9, 0x1.08a1f03b0b205p-8,
    0x1.69ea8d90cb868p-8, 0x1.ce160f8ec6838p-8, 0x1.1a59229952f93p-7, 0x1.4eb96421acfebp-7,
    0x1.841040d8da47ep-7, 0x1.ba48d274f8fb3p-7, 0x1.f152a4f72dd55p-7, 0x1.149033460301ap-6,
    0x1.30d388dab5e1ap-6, 0x1.4d6eaf2fbb064p-6, 0x1.6a5daf40bbf89p-6, 0x1.879d1b600c10bp-6,
    0x1.a529f4e22ebf8p-6, 0x1.c301983cd0910p-6, 0x1.e121adb828c6ap-6, 0x1.ff881d718a5b7p-6,
    0x1.0f1982e96800bp-5, 0x1.1e9059f1f6ab7p-5, 0x1.2e27ce83df492p-5, 0x1.3ddf2ce98eec4p-5,
    0x1.4db5d0e11275ep-5, 0x1.5dab23cf2adcep-5, 0x1.6dbe9b398d063p-5, 0x1.7defb77af271dp-5,
    0x1.8e3e02a68b5acp-5, 0x1.9ea90f9295563p-5, 0x1.af30790385f71p-5, 0x1.bfd3e0f282a2cp-5,
    0x1.d092efeadf161p-5, 0x1.e16d547b25181p-5, 0x1.f262c2b6c6e36p-5, 0x1.01b979e30e498p-4,
    0x1.0a4ed2c159620p-4, 0x1.12f14d0f2179dp-4, 0x1.1ba0cbe97897cp-4, 0x1.245d344dd0d90p-4,
    0x1.2d266cf9b3110p-4, 0x1.35fc5e4d93e6ap-4, 0x1.3edef23269a81p-4, 0x1.47ce1401b2214p-4,
    0x1.50c9b06fa2baep-4, 0x1.59d1b5774669dp-4, 0x1.62e6124854d12p-4, 0x1.6c06b73694a45p-4,
    0x1.753395aaa116ep-4, 0x1.7e6ca013eefc9p-4, 0x1.87b1c9dbf2844p-4, 0x1.9103075a4a09ep-4,
    0x1.9a604dc9d5b0bp-4, 0x1.a3c9933ea6279p-4, 0x1.ad3ece9caf626p-4, 0x1.b6bff78f2e22ap-4,
    0x1.c04d0680b1008p-4, 0x1.c9e5f493b7403p-4, 0x1.d38abb9bd91dcp-4, 0x1.dd3b56176e889p-4,
    0x1.e6f7bf29aa542p-4, 0x1.f0bff29520e12p-4, 0x1.fa93ecb6b222dp-4, 0x1.0239d54067d2bp-3,
    0x1.072f94bb8bf85p-3, 0x1.0c2b33d5209bap-3, 0x1.112cb1da26eb9p-3, 0x1.16340e5a82d63p-3,
    0x1.1b41492757d42p-3, 0x1.2054625183c34p-3, 0x1.256d5a2835eb6p-3, 0x1.2a8c3137a071bp-3,
    0x1.2fb0e847c2a65p-3, 0x1.34db805b4ab88p-3, 0x1.3a0bfaae8d7eep-3, 0x1.3f4258b6931aep-3,
    0x1.447e9c20375d6p-3, 0x1.49c0c6cf5ce30p-3, 0x1.4f08dade31fc6p-3, 0x1.5456da9c8683bp-3,
    0x1.59aac88f31d75p-3, 0x1.5f04a76f88400p-3, 0x1.64647a2adf1a4p-3, 0x1.69ca43e21f260p-3,
    0x1.6f3607e96471ap-3, 0x1.74a7c9c7ab5a9p-3, 0x1.7a1f8d368a322p-3, 0x1.7f9d5621f7175p-3,
    0x1.852128a819a39p-3, 0x1.8aab09192815bp-3, 0x1.903afbf74fa6ap-3, 0x1.95d105f6a7c26p-3,
    0x1.9b6d2bfd2fe5bp-3, 0x1.a10f7322d7e3cp-3, 0x1.a6b7e0b19267dp-3, 0x1.ac667a2571805p-3,
    0x1.b21b452ccd13bp-3, 0x1.b7d647a8731aap-3, 0x1.bd9787abe18a3p-3, 0x1.c35f0b7d89d46p-3,
    0x1.c92cd9971df52p-3, 0x1.cf00f8a5e6fc8p-3, 0x1.d4db6f8b2514cp-3, 0x1.dabc455c79006p-3,
    0x1.e0a3816457180p-3, 0x1.e6912b2283cd9p-3, 0x1.ec854a4c99c3fp-3, 0x1.f27fe6ce998ccp-3,
    0x1.f88108cb83231p-3, 0x1.fe88b89df93bdp-3, 0x1.024b7f6c7747ap-2, 0x1.0555f2242e9d4p-2,
    0x1.0863b8f904330p-2, 0x1.0b74d88b242d5p-2, 0x1.0e895598709bdp-2, 0x1.11a134fcf241ep-2,
    0x1.14bc7bb34ee63p-2, 0x1.17db2ed5454e5p-2, 0x1.1afd539c2f04cp-2, 0x1.1e22ef6188113p-2,
    0x1.214c079f7cc9cp-2, 0x1.2478a1f17de87p-2, 0x1.27a8c414db11ap-2, 0x1.2adc73e963fd9p-2,
    0x1.2e13b77210763p-2, 0x1.314e94d5af62dp-2, 0x1.348d125f9d19cp-2, 0x1.37cf368081377p-2,
    0x1.3b1507cf143acp-2, 0x1.3e5e8d08ed2d8p-2, 0x1.41abcd1357a17p-2, 0x1.44fccefc324fbp-2,
    0x1.485199fad6ad3p-2, 0x1.4baa357109ca2p-2, 0x1.4f06a8ebf6d91p-2, 0x1.5266fc2533bebp-2,
    0x1.55cb3703d00fep-2, 0x1.5933619d6eebcp-2, 0x1.5c9f84376c242p-2, 0x1.600fa7480d2c6p-2,
    0x1.6383d377be512p-2, 0x1.66fc11a25cbe0p-2, 0x1.6a786ad88de1fp-2, 0x1.6df8e86124ca5p-2,
    0x1.717d93ba96148p-2, 0x1.7506769c7b1e9p-2, 0x1.78939af9252e7p-2, 0x1.7c250aff414abp-2,
    0x1.7fbad11b8d90dp-2, 0x1.8354f7faa0dd5p-2, 0x1.86f38a8ac5ab1p-2, 0x1.8a9693fde9184p-2,
    0x1.8e3e1fcb9f113p-2, 0x1.91ea39b33cb14p-2, 0x1.959aedbe09f8fp-2, 0x1.995048418c0c4p-2,
    0x1.9d0a55e1e93ddp-2, 0x1.a0c923946843cp-2, 0x1.a48cbea20c04bp-2, 0x1.a85534aa4d87ep-2,
    0x1.ac2293a5f5a9ap-2, 0x1.aff4e9ea1854fp-2, 0x1.b3cc462b331c7p-2, 0x1.b7a8b78071319p-2,
    0x1.bb8a4d6716d8ep-2, 0x1.bf7117c616a14p-2, 0x1.c35d26f1d2cb4p-2, 0x1.c74e8bb00d7c5p-2,
    0x1.cb45573c0a843p-2, 0x1.cf419b4ae5b69p-2, 0x1.d3436a102107bp-2, 0x1.d74ad6426de2ep-2,
    0x1.db57f320b56aap-2, 0x1.df6ad47763a02p-2, 0x1.e3838ea5f9b7ep-2, 0x1.e7a236a4ec3c0p-2,
    0x1.ebc6e20bd1f50p-2, 0x1.eff1a717e8f8ep-2, 0x1.f4229cb2f7aedp-2, 0x1.f859da7a900c4p-2,
    0x1.fc9778c7bbd9cp-2, 0x1.006dc85b8cac2p-1, 0x1.02931e18b8229p-1, 0x1.04bbcafa63f2bp-1,
    0x1.06e7dccf03c33p-1, 0x1.091761d995d7ep-1, 0x1.0b4a68d70d9aap-1, 0x1.0d8101041429cp-1,
    0x1.0fbb3a232590fp-1, 0x1.11f9248311f34p-1, 0x1.143ad105ea997p-1, 0x1.16805128639d6p-1,
    0x1.18c9b709b3c4cp-1, 0x1.1b171573fd10ep-1, 0x1.1d687fe549966p-1, 0x1.1fbe0a992961dp-1,
    0x1.2217ca92ff7eep-1, 0x1.2475d5a90db7fp-1, 0x1.26d84290504e8p-1, 0x1.293f28e93cd11p-1,
    0x1.2baaa14d79545p-1, 0x1.2e1ac55ea3be9p-1, 0x1.308fafd6438ebp-1, 0x1.33097c9703a32p-1,
    0x1.358848bf550e7p-1, 0x1.380c32bda00d2p-1, 0x1.3a955a662cd0bp-1, 0x1.3d23e10af31a0p-1,
    0x1.3fb7e99585b7fp-1, 0x1.425198a355fe0p-1, 0x1.44f114a493676p-1, 0x1.479685fdf500fp-1,
    0x1.4a42172dc5276p-1, 0x1.4cf3f4f494ebdp-1, 0x1.4fac4e820b665p-1, 0x1.526b55a656cd3p-1,
    0x1.55313f08d9e44p-1, 0x1.57fe4264c8d8cp-1, 0x1.5ad29acc85c85p-1, 0x1.5dae86f4aff66p-1,
    0x1.6092498802662p-1, 0x1.637e298550c15p-1, 0x1.667272a92e31fp-1, 0x1.696f75e513b26p-1,
    0x1.6c7589e635a86p-1, 0x1.6f850baea7aebp-1, 0x1.729e5f43f6d0ep-1, 0x1.75c1f0770d853p-1,
    0x1.78f033ca0b0d2p-1, 0x1.7c29a779c6855p-1, 0x1.7f6ed4b20e2c8p-1, 0x1.82c050f56cf6bp-1,
    0x1.861ebfc37bca7p-1, 0x1.898ad48badefep-1, 0x1.8d0554fe60aa4p-1, 0x1.908f1bd31714bp-1,
    0x1.94291c21b7a43p-1, 0x1.97d4657617abep-1, 0x1.9b9228d24067ep-1, 0x1.9f63bee651fd5p-1,
    0x1.a34aafdf5af0cp-1, 0x1.a748bd550c9dep-1, 0x1.ab5fef17a2501p-1, 0x1.af92a3f6ce89fp-1,
    0x1.b3e3a8234dd0dp-1, 0x1.b85653a8ff54fp-1, 0x1.bceeb4ee1dc7fp-1, 0x1.c1b1cd9eebae7p-1,
    0x1.c6a5ecea9787cp-1, 0x1.cbd33a8a72de8p-1, 0x1.d144978a119d9p-1, 0x1.d70920657bcefp-1,
    0x1.dd36fa704de93p-1, 0x1.e3f11e027f074p-1, 0x1.eb7545b6ca913p-1, 0x1.f446ac979f084p-1,
    0x1.0000000000000p+0
};

const uint64_t fsci__rng_zig_k[FSCI__RNG_ZIG_N] = {
    UINT64_C(0xef33d8025ef65), UINT64_C(0xf1a5a4b331c49), UINT64_C(0xf66c5f7f0302c), UINT64_C(0xf89fa48a41dfb),
    UINT64_C(0xf9e971e014597), UINT64_C(0xfac40582a2873), UINT64_C(0xfb606c4005433), UINT64_C(0xfbd6581c0b83a),
    UINT64_C(0xfc32b2f1e22ec), UINT64_C(0xfc7d26ecd2d22), UINT64_C(0xfcba8d85e11b1), UINT64_C(0xfcee204761f9e),
    UINT64_C(0xfd1a1a7b4c7ac), UINT64_C(0xfd40149e2f011), UINT64_C(0xfd613adbd650b), UINT64_C(0xfd7e6ef48cf03),
    UINT64_C(0xfd985e1b2ba75), UINT64_C(0xfdaf8f82e0282), UINT64_C(0xfdc46e529bf12), UINT64_C(0xfdd7509c63bfc),
    UINT64_C(0xfde87c57efeaa), UINT64_C(0xfdf82b02b71aa), UINT64_C(0xfe068c4ee67af), UINT64_C(0xfe13c82788313),
    UINT64_C(0xfe20003995557), UINT64_C(0xfe2b5122fe4fc), UINT64_C(0xfe35d35eeb19b), UINT64_C(0xfe3f9bffd1e37),
    UINT64_C(0xfe48bd436f457), UINT64_C(0xfe51470977280), UINT64_C(0xfe5947338f742), UINT64_C(0xfe60c9f38307e),
    UINT64_C(0xfe67da0b6abd8), UINT64_C(0xfe6e8102aa201), UINT64_C(0xfe74c751f6aa4), UINT64_C(0xfe7ab488233c0),
    UINT64_C(0xfe804f690a93f), UINT64_C(0xfe859e07ab1ea), UINT64_C(0xfe8aa5dc4e8e5), UINT64_C(0xfe8f6bd76c5d6),
    UINT64_C(0xfe93f471d4728), UINT64_C(0xfe9843ba947a3), UINT64_C(0xfe9c5d62f563a), UINT64_C(0xfea044c8dd9f6),
    UINT64_C(0xfea3fcffd73e5), UINT64_C(0xfea788d8ee326), UINT64_C(0xfeaaeae992257), UINT64_C(0xfeae2591a02e8),
    UINT64_C(0xfeb13b00b2d4b), UINT64_C(0xfeb42d3ad1f9d), UINT64_C(0xfeb6fe1c98542), UINT64_C(0xfeb9af5ee0cdb),
    UINT64_C(0xfebc429a0b691), UINT64_C(0xfebeb948e6fd0), UINT64_C(0xfec114cb4b334), UINT64_C(0xfec356686c962),
    UINT64_C(0xfec57f50f31fd), UINT64_C(0xfec790a0da978), UINT64_C(0xfec98b61230c0), UINT64_C(0xfecb708956eb4),
    UINT64_C(0xfecd4100eb7b8), UINT64_C(0xfecefda07fe32), UINT64_C(0xfed0a732fe643), UINT64_C(0xfed23e76a2fd7),
    UINT64_C(0xfed3c41dea422), UINT64_C(0xfed538d06adff), UINT64_C(0xfed69d2b9c02a), UINT64_C(0xfed7f1c38a836),
    UINT64_C(0xfed937237e98c), UINT64_C(0xfeda6dce938c9), UINT64_C(0xfedb964042cf3), UINT64_C(0xfedcb0ece39d3),
    UINT64_C(0xfeddbe422047d), UINT64_C(0xfedebea76216c), UINT64_C(0xfedfb27e349cb), UINT64_C(0xfee09a22a1446),
    UINT64_C(0xfee175eb83c59), UINT64_C(0xfee2462ad8204), UINT64_C(0xfee30b2e02ad7), UINT64_C(0xfee3c53e12c4f),
    UINT64_C(0xfee474a0006ce), UINT64_C(0xfee51994e57b5), UINT64_C(0xfee5b45a32888), UINT64_C(0xfee64529e007e),
    UINT64_C(0xfee6cc3a9bd5e), UINT64_C(0xfee749bff37ff), UINT64_C(0xfee7bdea7b887), UINT64_C(0xfee828e7f3dfc),
    UINT64_C(0xfee88ae369c79), UINT64_C(0xfee8e40557515), UINT64_C(0xfee93473c0a39), UINT64_C(0xfee97c524f2e3),
    UINT64_C(0xfee9bbc26af2e), UINT64_C(0xfee9f2e352024), UINT64_C(0xfeea21d22e4da), UINT64_C(0xfeea48aa29e82),
    UINT64_C(0xfeea678481d24), UINT64_C(0xfeea7e7897653), UINT64_C(0xfeea8d9c0075e), UINT64_C(0xfeea95029640f),
    UINT64_C(0xfeea94be8333b), UINT64_C(0xfeea8ce04fa0a), UINT64_C(0xfeea7d76ed6f9), UINT64_C(0xfeea668fc2d71),
    UINT64_C(0xfeea4836b42ab), UINT64_C(0xfeea22762ccae), UINT64_C(0xfee9f557273f4), UINT64_C(0xfee9c0e13485a),
    UINT64_C(0xfee9851a829eb), UINT64_C(0xfee94207e25da), UINT64_C(0xfee8f7accc851), UINT64_C(0xfee8a60b66343),
    UINT64_C(0xfee84d2484ab2), UINT64_C(0xfee7ecf7b06ba), UINT64_C(0xfee7858327b80), UINT64_C(0xfee716c3e077a),
    UINT64_C(0xfee6a0b5897f0), UINT64_C(0xfee623528b42d), UINT64_C(0xfee59e9407f41), UINT64_C(0xfee51271db085),
    UINT64_C(0xfee47ee2982f3), UINT64_C(0xfee3e3db89b3c), UINT64_C(0xfee34150ae4bb), UINT64_C(0xfee29734b6524),
    UINT64_C(0xfee1e579006df), UINT64_C(0xfee12c0d95a06), UINT64_C(0xfee06ae124bc4), UINT64_C(0xfedfa1e0fd413),
    UINT64_C(0xfeded0f909980), UINT64_C(0xfeddf813c8ad2), UINT64_C(0xfedd171a46e52), UINT64_C(0xfedc2df416652),
    UINT64_C(0xfedb3c8746ab3), UINT64_C(0xfeda42b85b704), UINT64_C(0xfed9406a42cc8), UINT64_C(0xfed8357e4a981),
    UINT64_C(0xfed721d414fe8), UINT64_C(0xfed605498c3dc), UINT64_C(0xfed4dfbad586e), UINT64_C(0xfed3b10242f4c),
    UINT64_C(0xfed278f844902), UINT64_C(0xfed1377358528), UINT64_C(0xfecfec47f91b7), UINT64_C(0xfece97488c8b3),
    UINT64_C(0xfecd38454fb15), UINT64_C(0xfecbcf0c427fe), UINT64_C(0xfeca5b6911f11), UINT64_C(0xfec8dd2500cb3),
    UINT64_C(0xfec75406ceef4), UINT64_C(0xfec5bfd29f196), UINT64_C(0xfec42049dafd3), UINT64_C(0xfec2752b15a14),
    UINT64_C(0xfec0be31ebde8), UINT64_C(0xfebefb16e2e3e), UINT64_C(0xfebd2b8f449cf), UINT64_C(0xfebb4f4cf9d7c),
    UINT64_C(0xfeb965fe62013), UINT64_C(0xfeb76f4e284fa), UINT64_C(0xfeb56ae3162b3), UINT64_C(0xfeb3585fe2a4a),
    UINT64_C(0xfeb13762fec12), UINT64_C(0xfeaf07865e63c), UINT64_C(0xfeacc85f3d91f), UINT64_C(0xfeaa797de1cef),
    UINT64_C(0xfea81a6d57419), UINT64_C(0xfea5aab32952c), UINT64_C(0xfea329cf166a3), UINT64_C(0xfea0973abe67c),
    UINT64_C(0xfe9df2694b6d5), UINT64_C(0xfe9b3ac714865), UINT64_C(0xfe986fb939aa1), UINT64_C(0xfe95909d388ea),
    UINT64_C(0xfe929cc879b1c), UINT64_C(0xfe8f9387d4ef6), UINT64_C(0xfe8c741f0cebb), UINT64_C(0xfe893dc840864),
    UINT64_C(0xfe85efb35173b), UINT64_C(0xfe8289053f08c), UINT64_C(0xfe7f08d774243), UINT64_C(0xfe7b6e37070a1),
    UINT64_C(0xfe77b823e9e39), UINT64_C(0xfe73e5900a701), UINT64_C(0xfe6ff55e5f4f2), UINT64_C(0xfe6be661e11aa),
    UINT64_C(0xfe67b75c6d578), UINT64_C(0xfe6366fd91078), UINT64_C(0xfe5ef3e138689), UINT64_C(0xfe5a5c8e41212),
    UINT64_C(0xfe559f74ebc77), UINT64_C(0xfe50baed29524), UINT64_C(0xfe4bad34c095b), UINT64_C(0xfe46746d47734),
    UINT64_C(0xfe410e99ead7d), UINT64_C(0xfe3b799d0002a), UINT64_C(0xfe35b33558d4b), UINT64_C(0xfe2fb8fb54186),
    UINT64_C(0xfe29885da1b92), UINT64_C(0xfe231e9db1ca9), UINT64_C(0xfe1c78cbc3f98), UINT64_C(0xfe1593c28b84c),
    UINT64_C(0xfe0e6c225a258), UINT64_C(0xfe06fe4bc24f1), UINT64_C(0xfdff46599ed3f), UINT64_C(0xfdf7401a6b42d),
    UINT64_C(0xfdeee708d514e), UINT64_C(0xfde6364369f63), UINT64_C(0xfddd288342f8f), UINT64_C(0xfdd3b8118729d),
    UINT64_C(0xfdc9debb99a7d), UINT64_C(0xfdbf95c5bfcd0), UINT64_C(0xfdb4d5dc02e1f), UINT64_C(0xfda9970105e8b),
    UINT64_C(0xfd9dd07a7add3), UINT64_C(0xfd9178bad2c8b), UINT64_C(0xfd848547b08e7), UINT64_C(0xfd76ea9c8e832),
    UINT64_C(0xfd689c08e99ec), UINT64_C(0xfd598b8920f52), UINT64_C(0xfd49a9990b479), UINT64_C(0xfd38e4ff0c91d),
    UINT64_C(0xfd272a8e2f450), UINT64_C(0xfd1464dd6c4e5), UINT64_C(0xfd007bf1dc930), UINT64_C(0xfceb54d8fec99),
    UINT64_C(0xfcd4d12f839c4), UINT64_C(0xfcbcce902231a), UINT64_C(0xfca325e4bde84), UINT64_C(0xfc87aa92896a4),
    UINT64_C(0xfc6a2977aee30), UINT64_C(0xfc4a67ae25bd1), UINT64_C(0xfc2821037a248), UINT64_C(0xfc03060ff6c57),
    UINT64_C(0xfbdab9d040bed), UINT64_C(0xfbaece9a1e50c), UINT64_C(0xfb7ec2366fe77), UINT64_C(0xfb49f8d5374c5),
    UINT64_C(0xfb0fb6718b90e), UINT64_C(0xfacf160d354db), UINT64_C(0xfa86fde5b4bf8), UINT64_C(0xfa360f581fa72),
    UINT64_C(0xf9da907dbf508), UINT64_C(0xf9724c74dd0da), UINT64_C(0xf8fa6578325dd), UINT64_C(0xf86f10c6357d2),
    UINT64_C(0xf7cb2ec28449b), UINT64_C(0xf707a755396a4), UINT64_C(0xf61a5e41ba395), UINT64_C(0xf4f469561255b),
    UINT64_C(0xf37ed61ffcb17), UINT64_C(0xf19470afa44ab), UINT64_C(0xeef4b817ecab9), UINT64_C(0xeb255e9d3f77d),
    UINT64_C(0xe51f67ec1eeec), UINT64_C(0xda354fabd8145), UINT64_C(0xc08be98fbc6b6), UINT64_C(0x0000000000000)
};

/* stirlerr(n) = log(n!) - (n log n - n + log(2 pi n) / 2) for n = 1..31 (mpmath);
 * entry 0 is unused. */
static const double stirlerr_tab[32] = {
    0x0p+0, 0x1.4c071bcda0a5bp-4, 0x1.52a9b923ea649p-5, 0x1.c579a268d80b3p-6,
    0x1.54a2662fd78a9p-6, 0x1.10b4e513fcbedp-6, 0x1.c6b167bebdf36p-7, 0x1.85d4d612e4a86p-7,
    0x1.552805e7b3076p-7, 0x1.2f4871b12ab64p-7, 0x1.10f9d4c0743a7p-7, 0x1.f0593088014f8p-8,
    0x1.c7018733aa9c6p-8, 0x1.a40514700f36cp-8, 0x1.86076c002d4a7p-8, 0x1.6c08f6f194a10p-8,
    0x1.5549f7dd113bcp-8, 0x1.4137c74da35f2p-8, 0x1.2f604ff627d77p-8, 0x1.1f697dd857d8ep-8,
    0x1.110b3ed261fb3p-8, 0x1.040b3999e0e2ap-8, 0x1.f0735f77a883ap-9, 0x1.dade5f5c049d4p-9,
    0x1.c715b494f1b23p-9, 0x1.b4e224e78a104p-9, 0x1.a414f4a0d8468p-9, 0x1.948654042bccap-9,
    0x1.861422f5d68c0p-9, 0x1.78a0f61376d1dp-9, 0x1.6c134df6e3d33p-9, 0x1.6054f550b26c0p-9
};

/* clang-format on */

/* ------------------------------------------------------------- generator */

static inline void philox_block(uint64_t k0, uint64_t k1, uint64_t c0, uint64_t c1, uint64_t c2, uint64_t c3,
                                uint64_t *out)
{
    philox4x64_ctr_t ctr = {{c0, c1, c2, c3}};
    philox4x64_key_t key = {{k0, k1}};
    philox4x64_ctr_t y = philox4x64_R(10, ctr, key);
    out[0] = y.v[0];
    out[1] = y.v[1];
    out[2] = y.v[2];
    out[3] = y.v[3];
}

static inline void rng_refill(fsci_rng *r)
{
    /* 256-bit increment before each block, word 0 least significant: numpy's order. */
    if (++r->ctr[0] == 0 && ++r->ctr[1] == 0 && ++r->ctr[2] == 0) ++r->ctr[3];
    philox_block(r->key[0], r->key[1], r->ctr[0], r->ctr[1], r->ctr[2], r->ctr[3], r->buf);
    r->pos = 0;
}

static inline uint64_t rng_next(fsci_rng *r)
{
    if ((unsigned)r->pos >= 4u) rng_refill(r);
    return r->buf[r->pos++];
}

static inline double u64_to_unit(uint64_t w)
{
    return (double)(w >> 11) * 0x1p-53;
}

static inline double rng_unit(fsci_rng *r)
{
    return u64_to_unit(rng_next(r));
}

void fsci_rng_init(fsci_rng *r, uint64_t seed, uint64_t stream, uint64_t index_lo, uint64_t index_hi)
{
    r->key[0] = seed;
    r->key[1] = stream;
    r->ctr[0] = 0;
    r->ctr[1] = 0;
    r->ctr[2] = index_lo;
    r->ctr[3] = index_hi;
    memset(r->buf, 0, sizeof r->buf);
    r->pos = 4;
}

uint64_t fsci_rng_u64(fsci_rng *r)
{
    return rng_next(r);
}

double fsci_rng_uniform(fsci_rng *r)
{
    return rng_unit(r);
}

/* ---------------------------------------------------------------- normal */

/* Marsaglia's tail method: x = -log(u1)/R, y = -log(u2), accept if 2y > x^2;
 * R + x then has the normal density restricted to [R, inf). */
static double normal_tail(fsci_rng *r)
{
    const double R = fsci__rng_zig_x[1];
    for (;;) {
        /* 1 - u is exact and lies in (0, 1]: both logarithms are finite. */
        double x = -log(1.0 - rng_unit(r)) / R;
        double y = -log(1.0 - rng_unit(r));
        if (y + y > x * x) return R + x;
    }
}

/* One word picks the layer (bits 0-7), the sign (bit 8) and x (bits 12-63).
 * A point of layer i with x < x[i+1] lies under the curve for sure (the
 * integer test against k[i] is conservative); otherwise layer 0 samples the
 * tail and the others test a uniform height against f(x). */
static inline double normal_draw(fsci_rng *r)
{
    for (;;) {
        uint64_t w = rng_next(r);
        unsigned i = (unsigned)(w & 0xff);
        uint64_t m = w >> 12;
        uint64_t sign = (w & 0x100) << 55; /* bit 8 -> bit 63: a branch-free sign */
        double x = (double)m * 0x1p-52 * fsci__rng_zig_x[i];
        if (m >= fsci__rng_zig_k[i]) {
            if (i == 0) {
                x = normal_tail(r);
            } else {
                double f0 = fsci__rng_zig_f[i], f1 = fsci__rng_zig_f[i + 1];
                if (!(f0 + rng_unit(r) * (f1 - f0) < exp(-0.5 * x * x))) continue;
            }
        }
        uint64_t bits;
        memcpy(&bits, &x, sizeof bits);
        bits ^= sign;
        memcpy(&x, &bits, sizeof x);
        return x;
    }
}

double fsci_rng_normal(fsci_rng *r)
{
    return normal_draw(r);
}

/* --------------------------------------------------------------- Poisson */

#define LN_2PI 1.8378770664093454835606594728112353

#if defined(__GNUC__)
#define RNG_NOINLINE __attribute__((noinline))
#define RNG_INLINE inline __attribute__((always_inline))
#else
#define RNG_NOINLINE
#define RNG_INLINE inline
#endif

/* The step-4 squeeze loop is compiled for AVX-512 and AVX2 as well as the
 * baseline, picked at load time (GCC function multiversioning). It cannot
 * change a result: the squeeze only ever decides what the exact test would
 * decide, with margins far above any rounding difference between the
 * versions. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#define RNG_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RNG_SIMD_CLONES
#endif

/* stirlerr(n) for n >= 32 from its asymptotic series
 * 1/(12n) - 1/(360n^3) + 1/(1260n^5) - 1/(1680n^7) + 1/(1188n^9);
 * the first omitted term is below 1e-19 there. */
static double stirlerr(double n)
{
    if (n < 32.0) return stirlerr_tab[(int)n];
    double r = 1.0 / (n * n);
    return (1.0 / 12 - r * (1.0 / 360 - r * (1.0 / 1260 - r * (1.0 / 1680 - r / 1188)))) / n;
}

/* bd0(x, m) = x log(x/m) + m - x >= 0 without cancellation (Loader 2000): for
 * x near m, with v = (x - m)/(x + m), log(x/m) = 2 atanh(v) gives
 * bd0 = (x - m) v + 2x (v^3/3 + v^5/5 + ...). */
static double bd0(double x, double m)
{
    /* 1 / (2j + 1), j = 1..16: |v| < 0.1 makes the terms fall below 2^-53 by j = 9. */
    static const double inv_odd[16] = {1.0 / 3,  1.0 / 5,  1.0 / 7,  1.0 / 9,  1.0 / 11, 1.0 / 13,
                                       1.0 / 15, 1.0 / 17, 1.0 / 19, 1.0 / 21, 1.0 / 23, 1.0 / 25,
                                       1.0 / 27, 1.0 / 29, 1.0 / 31, 1.0 / 33};
    double d = x - m;
    if (fabs(d) < 0.1 * (x + m)) {
        double v = d / (x + m), s = d * v, t = 2.0 * x * v, v2 = v * v;
        for (int j = 0; j < 16; j++) {
            t *= v2;
            double s1 = s + t * inv_odd[j];
            if (s1 == s) break;
            s = s1;
        }
        return s;
    }
    return x * log(x / m) + m - x;
}

/* log(lam^k e^-lam / k!) with log k! = k log k - k + log(2 pi k)/2 + stirlerr(k). */
double fsci__rng_poisson_logpmf(double k, double lam)
{
    if (k == 0.0) return -lam;
    return -bd0(k, lam) - 0.5 * (LN_2PI + log(k)) - stirlerr(k);
}

/* Inversion: K = min{k : u < F(k)} with F(k) accumulated as q(0) = P(K = 0),
 * q(k) = q(k-1) (lam / k) (lam times a table of 1/k), F(k) = F(k-1) + q(k).
 * The accumulation stops where adding q(k) no longer changes F (the rest of
 * the tail is below rounding) or at INV_KMAX terms; a u at or above the last F
 * is redrawn, so rounding never produces a wrong or unbounded k. All paths
 * (single draws, the guide table, the cell table) compute the same F values
 * and therefore the same K for the same word. */
enum { INV_KMAX = 64, GUIDE_BITS = 7, GUIDE_N = 1 << GUIDE_BITS };

/* clang-format off */
static const double inv_k[INV_KMAX] = {
    0.0, 1.0 / 1, 1.0 / 2, 1.0 / 3, 1.0 / 4, 1.0 / 5, 1.0 / 6, 1.0 / 7,
    1.0 / 8, 1.0 / 9, 1.0 / 10, 1.0 / 11, 1.0 / 12, 1.0 / 13, 1.0 / 14, 1.0 / 15,
    1.0 / 16, 1.0 / 17, 1.0 / 18, 1.0 / 19, 1.0 / 20, 1.0 / 21, 1.0 / 22, 1.0 / 23,
    1.0 / 24, 1.0 / 25, 1.0 / 26, 1.0 / 27, 1.0 / 28, 1.0 / 29, 1.0 / 30, 1.0 / 31,
    1.0 / 32, 1.0 / 33, 1.0 / 34, 1.0 / 35, 1.0 / 36, 1.0 / 37, 1.0 / 38, 1.0 / 39,
    1.0 / 40, 1.0 / 41, 1.0 / 42, 1.0 / 43, 1.0 / 44, 1.0 / 45, 1.0 / 46, 1.0 / 47,
    1.0 / 48, 1.0 / 49, 1.0 / 50, 1.0 / 51, 1.0 / 52, 1.0 / 53, 1.0 / 54, 1.0 / 55,
    1.0 / 56, 1.0 / 57, 1.0 / 58, 1.0 / 59, 1.0 / 60, 1.0 / 61, 1.0 / 62, 1.0 / 63
};
/* clang-format on */

/* q(0) = e^-lam, raised to 1 - lam if exp rounds below that bound (e^-lam >=
 * 1 - lam holds exactly): then the squeeze "u < 1 - lam => K = 0", which
 * spares the exp for most draws with a small mean, always agrees with the
 * search. */
static inline double inv_q0(double lam)
{
    double e = exp(-lam), t = 1.0 - lam;
    return e > t ? e : t;
}

/* K for the uniform u, or -1 if u lies beyond the last F (redraw). */
static inline int inv_search(double u, double lam, double q0)
{
    double q = q0, F = q;
    int k = 0;
    while (u >= F) {
        if (++k >= INV_KMAX) return -1;
        q *= lam * inv_k[k];
        double Fn = F + q;
        if (Fn == F) return -1;
        F = Fn;
    }
    return k;
}

/* K from one word, or -1 (redraw). The squeeze is worth a branch only while
 * it usually succeeds. */
static inline int inv_word(double lam, uint64_t w)
{
    double u = u64_to_unit(w);
    if (lam <= 0.25 && u < 1.0 - lam) return 0;
    return inv_search(u, lam, inv_q0(lam));
}

static inline int64_t inv_draw(fsci_rng *r, double lam)
{
    for (;;) {
        int k = inv_word(lam, rng_next(r));
        if (k >= 0) return k;
    }
}

typedef struct inv_table {
    double cdf[INV_KMAX + 1]; /* F(0..n-1), then 2.0 as a sentinel */
    uint8_t guide[GUIDE_N];   /* guide[j] = min{k : F(k) > j / GUIDE_N} */
    int n;
} inv_table;

static void inv_build(inv_table *t, double lam)
{
    double q = inv_q0(lam), F = q;
    int n = 1;
    t->cdf[0] = F;
    for (int k = 1; k < INV_KMAX; k++) {
        q *= lam * inv_k[k];
        double Fn = F + q;
        if (Fn == F) break;
        t->cdf[n++] = F = Fn;
    }
    for (int k = n; k <= INV_KMAX; k++) t->cdf[k] = 2.0;
    t->n = n;
    int k = 0;
    for (int j = 0; j < GUIDE_N; j++) {
        double lo = (double)j / GUIDE_N;
        while (k < n && t->cdf[k] <= lo) k++;
        t->guide[j] = (uint8_t)k;
    }
}

/* Inversion through the guide table of one mean: the same result as inv_word. */
static inline int inv_tab_word(const inv_table *t, uint64_t w)
{
    uint64_t v = w >> 11;
    double u = (double)v * 0x1p-53;
    int k = t->guide[v >> (53 - GUIDE_BITS)];
    while (u >= t->cdf[k]) k++;
    return k < t->n ? k : -1; /* k == n: u beyond the saturated CDF, redraw */
}

/* Cell table for per-element means below FSCI_RNG_POISSON_SWITCH. The plane
 * (lam, u) is cut into cells of 1/CELL_PER_UNIT in lam (cell row
 * floor(CELL_PER_UNIT lam), exact) and 1/CELL_NU in u (the top CELL_UBITS bits
 * of the word). K is non-decreasing in u and in lam, so if K takes the same
 * value at the cell's lower-left corner (lam_lo, u_lo) and at its upper-right
 * corner (lam_hi, u_hi), K has that value in the whole cell: such a cell
 * stores it, and a draw landing there costs one byte load. Other cells
 * ("mixed", about 3 to 15 % of the draws for lam >= 1, fewer below) run the
 * search. The corners are evaluated with the search's own F values at
 * u_lo - 2^-40 and u_hi + 2^-40: the computed F(k) differ from the exact
 * Poisson CDF by less than 2^-44 (q(0) within 2 ulp, at most 64 products and
 * sums, a tail beyond the last term below 2^-52), so the margins cover the
 * rounding and the stored K equals the search's K for every (lam, u) in the
 * cell. The top u row is always mixed (it contains the redraws). */
enum {
    CELL_PER_UNIT = FSCI__RNG_CELL_PER_UNIT,
    CELL_NL = 10 * CELL_PER_UNIT,
    CELL_UBITS = FSCI__RNG_CELL_UBITS,
    CELL_NU = 1 << CELL_UBITS,
    CELL_MIXED = 255
};

static uint8_t inv_cell[CELL_NL][CELL_NU];
static pthread_once_t inv_cell_once = PTHREAD_ONCE_INIT;

static void inv_cell_build(void)
{
    const double eps = 0x1p-40;
    inv_table lo, hi;
    inv_build(&lo, 0.0);
    for (int j = 0; j < CELL_NL; j++) {
        inv_build(&hi, (double)(j + 1) / CELL_PER_UNIT);
        int klo = 0, khi = 0;
        for (int b = 0; b < CELL_NU; b++) {
            double ulo = (double)b / CELL_NU - eps, uhi = (double)(b + 1) / CELL_NU + eps;
            while (klo < lo.n && ulo >= lo.cdf[klo]) klo++;
            while (khi < hi.n && uhi >= hi.cdf[khi]) khi++;
            int pure = klo < lo.n && klo == khi && b < CELL_NU - 1;
            inv_cell[j][b] = (uint8_t)(pure ? klo : CELL_MIXED);
        }
        lo = hi;
    }
}

/* inv_word through the cell table: the same result for every word. */
static inline int inv_cell_word(double lam, uint64_t w)
{
    unsigned c = inv_cell[(int)(lam * CELL_PER_UNIT)][w >> (64 - CELL_UBITS)];
    return c != CELL_MIXED ? (int)c : inv_word(lam, w);
}

/* PTRS constants of one mean (Hoermann 1993, algorithm PTRS, valid for
 * lam >= 10): b = 0.931 + 2.53 sqrt(lam), a = -0.059 + 0.02483 b,
 * 1/alpha = 1.1239 + 1.1328 / (b - 3.4), v_r = 0.9277 - 3.6224 / (b - 2). The
 * fast acceptance V <= v_r is tested multiplied out,
 * V (b - 2) <= 0.9277 (b - 2) - 3.6224, and 1/alpha (step 4 only) is computed
 * where it is needed, so that a new mean costs one square root and no
 * division. */
typedef struct ptrs_mean {
    double lam, b, a, a2, bm2, vrb;
} ptrs_mean;

static inline double ptrs_b(double lam)
{
    return 0.931 + 2.53 * sqrt(lam);
}

static inline void ptrs_mean_from_b(ptrs_mean *p, double lam, double b)
{
    p->lam = lam;
    p->b = b;
    p->a = -0.059 + 0.02483 * b;
    p->a2 = 2.0 * p->a;
    p->bm2 = b - 2.0;
    p->vrb = 0.9277 * p->bm2 - 3.6224;
}

static inline void ptrs_mean_set(ptrs_mean *p, double lam)
{
    ptrs_mean_from_b(p, lam, ptrs_b(lam));
}

static inline double ptrs_invalpha(double b)
{
    return 1.1239 + 1.1328 / (b - 3.4);
}

/* Bulk draws with one mean: its constants, 1/alpha, and an optional table
 * of the pmf over [lo, hi). */
typedef struct ptrs_consts {
    ptrs_mean m;
    double invalpha;
    const double *pmf;
    double lo, hi;
} ptrs_consts;

static void ptrs_setup(ptrs_consts *p, double lam)
{
    ptrs_mean_set(&p->m, lam);
    p->invalpha = ptrs_invalpha(p->m.b);
    p->pmf = NULL;
    p->lo = p->hi = 0.0;
}

/* P(K = k): the single definition behind both the pmf table and the direct
 * path (kept out of line so that both round identically), hence tabulated
 * and direct draws take the same decisions. */
static RNG_NOINLINE double ptrs_pmf(double k, double lam)
{
    return exp(fsci__rng_poisson_logpmf(k, lam));
}

/* Proposals beyond this are rejected outright: their acceptance probability,
 * the pmf at k with lam <= 1e15, is below 10^-(10^18). Keeps k an int64. */
#define PTRS_KMAX 0x1p62

/* Algorithm PTRS, one attempt from two words: U uniform on [-1/2, 1/2) and
 * V on (0, 1] (V = 0 would accept a k whose pmf underflows), us = 1/2 - |U|,
 * x = (2a/us + b) U + lam + 0.43 and k = floor(x). The paper tests "k < 0:
 * reject" after the fast acceptance; so do we (with k >= 2^62: reject), the
 * fast region (us >= 0.07, V <= v_r) giving 4 <= k < 2^62 for
 * 10 <= lam <= 1e15. */
typedef struct ptrs_try {
    double us, V, x;
} ptrs_try;

static inline ptrs_try ptrs_propose(const ptrs_mean *p, uint64_t w0, uint64_t w1)
{
    ptrs_try t;
    double U = u64_to_unit(w0) - 0.5;
    t.V = 1.0 - u64_to_unit(w1);
    t.us = 0.5 - fabs(U);
    t.x = (p->a2 / t.us + p->b) * U + p->lam + 0.43;
    return t;
}

/* The fast acceptance, us >= 0.07 and V <= v_r. */
#define PTRS_FAST(p, us, V) ((us) >= 0.07 && (V) * (p)->bm2 <= (p)->vrb)

/* Step 4 of the paper, V alpha / (a / us^2 + b) <= p(k), in the linear domain
 * and multiplied out (both denominators are positive): L <= p(k) c2 with
 * L = V (1/alpha) us^2, c2 = a + b us^2. One macro for every kernel, so that
 * they round identically. */
#define PTRS_STEP4(p, ia, V, us2, pk) ((V) * (ia) * (us2) <= (pk) * ((p)->a + (p)->b * (us2)))

/* A squeeze for step 4 without exp or log: bounds ylo <= y <= yhi on
 * y = bd0(k, lam) + stirlerr(k) = -log(p(k) sqrt(2 pi k)), then bounds on
 * e^-y; "L <= p(k) c2" is decided when both bounds agree. Returns 1 (accept),
 * 0 (reject) or -1 (undecided: run the exact test; ~1e-3 of the step-4 tests
 * for lam < 30, ~1e-5 above 1e3). The exact test compares L with the rounded product
 * exp(logpmf) c2: logpmf lies within 1e-9 (1 + y) of the true log p(k)
 * (Loader's forms lose at most a few hundred ulps of bd0; about 1e-14 in
 * practice), exp and the products within an ulp each; the margin mu covers
 * all of this, so a decision taken here is the exact test's decision (the
 * test suite checks this on a million random cases).
 *   - bd0 = d v + 2 k v^3 S(v^2), d = k - lam, v = d / (k + lam),
 *     S(t) = sum_j t^j / (2j + 3), 0 <= t < 1: the first 8 terms are a lower
 *     bound of S, and adding t^8 / (19 (1 - t)) an upper one (the terms
 *     shrink by at least t); the bounds are tight for the usual small t and
 *     still decide most rejections far in the tails;
 *   - 1/(12k) - 1/(360k^3) < stirlerr(k) < 1/(12k) for k >= 1 (the Stirling
 *     series is enveloping); for k = 0, y = lam and p(0) = e^-lam;
 *   - e^-z = 2^-n e^-r with n = round(z / ln 2), |r| = |z - n ln 2| <=
 *     0.35 to rounding (Cody and Waite's two-part ln 2), e^-r =
 *     sum_{j <= 8} (-r)^j / j! within 0.35^9 e^0.35 / 9! < 3e-10 (Estrin's
 *     scheme: short dependency chains), and e^-yhi >= e^-ylo (1 - (yhi - ylo)). */
#define LN2_HI 0x1.62e42fee00000p-1
#define LN2_LO 0x1.a39ef35793c76p-33
#define LOG2E 0x1.71547652b82fep+0
#define TWO_PI 0x1.921fb54442d18p+2

static inline double bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline uint64_t double_to_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* c ? a : b through the bits (vectorises where a select on doubles would
 * not, and is immune to NaN in the arm not taken). */
static inline double select_bits(int c, double a, double b)
{
    uint64_t m = (uint64_t)0 - (uint64_t)(c != 0);
    return bits_to_double((double_to_bits(a) & m) | (double_to_bits(b) & ~m));
}

/* The squeeze for the attempt (k, V, us^2) at mean lam with constant b:
 * 1.0 accept, 0.0 reject, -1.0 undecided. Straight-line arithmetic without
 * branches or calls (invalid cases are masked at the end), so that a loop
 * over many attempts is vectorised and its long dependency chain overlaps
 * across attempts. */
static inline double ptrs_squeeze(double kd, double lam, double b, double V, double us2)
{
    const double round_int = 0x1.8p52; /* (x + round_int) - round_int: x rounded to an integer */
    double a = -0.059 + 0.02483 * b, ia = ptrs_invalpha(b);
    double L = V * ia * us2, c2 = a + b * us2; /* as in PTRS_STEP4 */
    /* one division gives both 1/k and v */
    double d = kd - lam, s = kd + lam, q = 1.0 / (kd * s), ik = s * q, v = d * (kd * q), t = v * v;
    double t2 = t * t, t4 = t2 * t2;
    double S = (1.0 / 3 + t * (1.0 / 5)) + t2 * (1.0 / 7 + t * (1.0 / 9)) +
               t4 * ((1.0 / 11 + t * (1.0 / 13)) + t2 * (1.0 / 15 + t * (1.0 / 17)));
    double it = 1.0 / (1.0 - t), Sr = t4 * t4 * it * (1.0 / 19);
    double lin = d * v, cub = 2.0 * kd * v * t, cs = cub * S, cr = fabs(cub) * Sr;
    double st = ik * (1.0 / 12);
    /* mu from a bound on y that does not wait for S: S + Sr <= 1 / (3 (1 - t)) */
    double mu = 1e-9 * (1.0 + lin + fabs(cub) * it * (1.0 / 3) + st) + 1e-12;
    double ylo = lin + (cs - cr) + (st - ik * ik * ik * (1.0 / 360)) - mu, yhi = lin + (cs + cr) + st + mu;
    /* k = 0: p(0) = e^-lam exactly, y = lam (and no sqrt(2 pi k) below) */
    int k0 = kd == 0.0;
    double mu0 = 1e-9 * (1.0 + lam) + 1e-12, ylo0 = lam - mu0, yhi0 = lam + mu0;
    ylo = select_bits(k0, ylo0, ylo);
    yhi = select_bits(k0, yhi0, yhi);
    double gap = yhi - ylo;
    /* e^-yl = 2^-n e^-r, n = round(yl / ln 2), |r| <= ln(2)/2 (+ rounding), with
     * yl = min(ylo, 300): e^-yl still bounds e^-y from above, for rejections
     * far in the tails */
    double yl = select_bits(ylo < 300.0, ylo, 300.0);
    double f = yl * LOG2E + round_int, n = f - round_int;
    double r = (yl - n * LN2_HI) - n * LN2_LO, r2 = r * r, r4 = r2 * r2;
    double P = (1.0 - r) + r2 * (1.0 / 2 - r * (1.0 / 6)) +
               r4 * ((1.0 / 24 - r * (1.0 / 120)) + r2 * (1.0 / 720 - r * (1.0 / 5040))) +
               r4 * r4 * (1.0 / 40320);
    double scale = bits_to_double((1023 + double_to_bits(round_int) - double_to_bits(f)) << 52); /* 2^-n */
    double hi = c2 * ((P + 1e-9) * scale), lo = c2 * ((P - 1e-9) * scale * (1.0 - gap));
    /* L sqrt(2 pi k) against c2 e^-y, squared: no square root (yl <= 300
     * keeps the squares normal) */
    double tk = TWO_PI * kd, L2k = L * L * select_bits(k0, 1.0, tk); /* 1 for k = 0 */
    /* every comparison evaluated (no short circuit), so the selects need no branch */
    int acc = (L2k <= lo * lo) & (yhi < 300.0) & (gap < 0.5), rej = L2k > hi * hi;
    int valid = k0 | ((kd >= 1.0) & (t < 0.99));
    double dec = acc ? 1.0 : -1.0;
    dec = rej ? 0.0 : dec;
    return valid ? dec : -1.0;
}

/* Step 4 without a table: the squeeze, else the exact test. */
static RNG_NOINLINE int ptrs_step4_direct(const ptrs_mean *p, double kd, double V, double us2)
{
    double dec = ptrs_squeeze(kd, p->lam, p->b, V, us2);
    if (dec >= 0.0) return dec > 0.0;
    return PTRS_STEP4(p, ptrs_invalpha(p->b), V, us2, ptrs_pmf(kd, p->lam));
}

/* Step 4 with the one-mean table when k is in it. */
static inline int ptrs_accept(const ptrs_consts *p, int64_t k, double V, double us)
{
    double kd = (double)k, us2 = us * us;
    if (kd >= p->lo && kd < p->hi)
        return PTRS_STEP4(&p->m, p->invalpha, V, us2, p->pmf[(int64_t)(kd - p->lo)]);
    return ptrs_step4_direct(&p->m, kd, V, us2);
}

/* One PTRS attempt with the direct step 4: k, or -1 (rejected). */
static inline int64_t ptrs_attempt(const ptrs_mean *p, uint64_t w0, uint64_t w1)
{
    ptrs_try t = ptrs_propose(p, w0, w1);
    if (PTRS_FAST(p, t.us, t.V)) return (int64_t)t.x;
    if (!(t.x >= 0.0 && t.x < PTRS_KMAX) || (t.us < 0.013 && t.V > t.us)) return -1;
    return ptrs_step4_direct(p, (double)(int64_t)t.x, t.V, t.us * t.us) ? (int64_t)t.x : -1;
}

static inline int64_t ptrs_draw(fsci_rng *r, const ptrs_mean *p)
{
    for (;;) {
        uint64_t w0 = rng_next(r), w1 = rng_next(r);
        int64_t k = ptrs_attempt(p, w0, w1);
        if (k >= 0) return k;
    }
}

/* Tabulate the pmf over lam +- (10 sd + 10) (at most 512 KiB, lam up to ~1e7)
 * when that is small next to the number of draws. Returns the table to free, or NULL (then draws use the
 * direct path, with identical results). */
static double *ptrs_table(ptrs_consts *p, int64_t ndraws)
{
    double lam = p->m.lam, w = 10.0 * sqrt(lam) + 10.0;
    double lo = floor(lam - w), hi = ceil(lam + w);
    if (lo < 0.0) lo = 0.0;
    if (hi - lo > 65536.0 || 16.0 * (hi - lo) > (double)ndraws) return NULL;
    int64_t m = (int64_t)(hi - lo);
    double *t = fsci_malloc((size_t)m, sizeof *t);
    if (!t) {
        fsci_error_clear();
        return NULL;
    }
    for (int64_t i = 0; i < m; i++) t[i] = ptrs_pmf(lo + (double)i, lam);
    p->pmf = t;
    p->lo = lo;
    p->hi = hi;
    return t;
}

static inline int poisson_lam_ok(double lam)
{
    return lam >= 0.0 && lam <= FSCI_RNG_POISSON_MAX;
}

int64_t fsci_rng_poisson(fsci_rng *r, double lam)
{
    if (!poisson_lam_ok(lam)) return -1;
    if (lam == 0.0) return 0;
    if (lam < FSCI_RNG_POISSON_SWITCH) return inv_draw(r, lam);
    ptrs_mean p;
    ptrs_mean_set(&p, lam);
    return ptrs_draw(r, &p);
}

int64_t fsci__rng_poisson_attempt(double lam, const uint64_t *w)
{
    if (!poisson_lam_ok(lam)) return -2;
    if (lam == 0.0) return 0;
    if (lam < FSCI_RNG_POISSON_SWITCH) return inv_word(lam, w[0]);
    ptrs_mean p;
    ptrs_mean_set(&p, lam);
    return ptrs_attempt(&p, w[0], w[1]);
}

int fsci__rng_poisson_inv_word(double lam, uint64_t w, int mode)
{
    if (!(lam > 0.0 && lam < FSCI_RNG_POISSON_SWITCH)) return -3;
    if (mode == 0) return inv_word(lam, w);
    pthread_once(&inv_cell_once, inv_cell_build);
    if (mode == 2) return inv_cell_word(lam, w);
    unsigned c = inv_cell[(int)(lam * CELL_PER_UNIT)][w >> (64 - CELL_UBITS)];
    return c == CELL_MIXED ? -2 : (int)c;
}

int fsci__rng_ptrs_step4(double k, double lam, double V, double us, int mode)
{
    ptrs_mean p;
    ptrs_mean_set(&p, lam);
    double us2 = us * us;
    if (mode == 1) return (int)ptrs_squeeze(k, lam, p.b, V, us2);
    if (mode == 2) return ptrs_step4_direct(&p, k, V, us2);
    return PTRS_STEP4(&p, ptrs_invalpha(p.b), V, us2, ptrs_pmf(k, lam));
}

/* ------------------------------------------------------------ bulk fills */

static int64_t num_chunks(int64_t n)
{
    return (n + FSCI_RNG_CHUNK - 1) / FSCI_RNG_CHUNK;
}

static int team_size(int nthreads, int64_t nchunks)
{
    int nt = fsci_parallel_resolve(nthreads);
    return nchunks < nt ? (int)(nchunks > 0 ? nchunks : 1) : nt;
}

/* Chunk c of a fill: words from counter {b, 0, c, 0}, b = 1, 2, ... */
static void u64_chunk(uint64_t k0, uint64_t k1, uint64_t c, uint64_t *restrict out, int64_t m)
{
    int64_t j = 0;
    uint64_t b = 1;
    for (; j + 4 <= m; j += 4, b++) philox_block(k0, k1, b, 0, c, 0, out + j);
    if (j < m) {
        uint64_t blk[4];
        philox_block(k0, k1, b, 0, c, 0, blk);
        for (int64_t t = 0; j + t < m; t++) out[j + t] = blk[t];
    }
}

static void uniform_chunk(uint64_t k0, uint64_t k1, uint64_t c, double *restrict out, int64_t m)
{
    uint64_t blk[4];
    int64_t j = 0;
    uint64_t b = 1;
    for (; j + 4 <= m; j += 4, b++) {
        philox_block(k0, k1, b, 0, c, 0, blk);
        for (int t = 0; t < 4; t++) out[j + t] = u64_to_unit(blk[t]);
    }
    if (j < m) {
        philox_block(k0, k1, b, 0, c, 0, blk);
        for (int64_t t = 0; j + t < m; t++) out[j + t] = u64_to_unit(blk[t]);
    }
}

static void normal_chunk(uint64_t k0, uint64_t k1, uint64_t c, double *restrict out, int64_t m)
{
    fsci_rng r;
    fsci_rng_init(&r, k0, k1, c, 0);
    for (int64_t i = 0; i < m; i++) out[i] = normal_draw(&r);
}

#define CHECK_FILL_ARGS(out, n)                                                                              \
    do {                                                                                                     \
        FSCI_CHECK((n) >= 0, FSCI_EINVAL, "%s: n = %lld is negative", __func__, (long long)(n));             \
        FSCI_CHECK((n) == 0 || (out), FSCI_EINVAL, "%s: out is NULL for n = %lld", __func__,                 \
                   (long long)(n));                                                                          \
    } while (0)

/* CHUNK(args..., c, out + b, m) for every chunk c (first element b, m
 * elements). With one thread (or one chunk) the loop runs in the caller,
 * without entering a parallel region: the fills are called per pattern from
 * inside the engines' own regions. */
#define FOR_EACH_CHUNK(CHUNK, SCHED, out, n, nthreads, ...)                                                  \
    do {                                                                                                     \
        int64_t nch_ = num_chunks(n);                                                                        \
        int nt_ = team_size(nthreads, nch_);                                                                 \
        if (nt_ <= 1) {                                                                                      \
            for (int64_t c_ = 0; c_ < nch_; c_++) {                                                          \
                int64_t b_ = c_ * FSCI_RNG_CHUNK;                                                            \
                CHUNK(__VA_ARGS__, (uint64_t)c_, (out) + b_,                                                 \
                      (n)-b_ < FSCI_RNG_CHUNK ? (n)-b_ : FSCI_RNG_CHUNK);                                    \
            }                                                                                                \
        } else {                                                                                             \
            _Pragma(SCHED) for (int64_t c_ = 0; c_ < nch_; c_++)                                             \
            {                                                                                                \
                int64_t b_ = c_ * FSCI_RNG_CHUNK;                                                            \
                CHUNK(__VA_ARGS__, (uint64_t)c_, (out) + b_,                                                 \
                      (n)-b_ < FSCI_RNG_CHUNK ? (n)-b_ : FSCI_RNG_CHUNK);                                    \
            }                                                                                                \
        }                                                                                                    \
    } while (0)

int fsci_rng_fill_u64(uint64_t seed, uint64_t stream, uint64_t *out, int64_t n, int nthreads)
{
    CHECK_FILL_ARGS(out, n);
    FOR_EACH_CHUNK(u64_chunk, "omp parallel for num_threads(nt_) schedule(static)", out, n, nthreads, seed,
                   stream);
    return FSCI_OK;
}

int fsci_rng_fill_uniform(uint64_t seed, uint64_t stream, double *out, int64_t n, int nthreads)
{
    CHECK_FILL_ARGS(out, n);
    FOR_EACH_CHUNK(uniform_chunk, "omp parallel for num_threads(nt_) schedule(static)", out, n, nthreads,
                   seed, stream);
    return FSCI_OK;
}

int fsci_rng_fill_normal(uint64_t seed, uint64_t stream, double *out, int64_t n, int nthreads)
{
    CHECK_FILL_ARGS(out, n);
    FOR_EACH_CHUNK(normal_chunk, "omp parallel for num_threads(nt_) schedule(dynamic, 8)", out, n, nthreads,
                   seed, stream);
    return FSCI_OK;
}

/* Poisson fills: the word layout. The Poisson kernel is a sequence of
 * attempts, each reading a fixed number of words and giving a value or
 * nothing: one word for 0 < lam < 10 (inversion; nothing = a redraw, below
 * 1e-13), two for lam >= 10 (a PTRS proposal; nothing = a rejection, about
 * one attempt in eight), none for lam = 0. fsci_rng_poisson runs them on
 * consecutive words. A fill gives each attempt level its own sub-stream:
 * attempt a (a = 0, 1, ...) of element i of chunk c reads sub-stream
 * {seed, stream}, counter {b, 0, c, a}, right after attempt a of the elements
 * before i in the chunk (those that needed one). So every attempt has a known
 * place: a level is a batch of independent attempts, classes of elements run
 * in their own loops, and nothing waits for the outcome of the element before
 * (with one shared stream, each PTRS rejection test, some 150 cycles of
 * dependent arithmetic, would gate everything after it). Level 0 is the
 * chunk's sub-stream of fsci_rng_fill_u64. */
enum { BATCH_WORDS = 128, PTRS_BATCH = BATCH_WORDS / 2, ARRAY_WORDS = 32 };

/* nw words (rounded up to whole blocks) of level a of chunk c, from block
 * *blk + 1 on. */
static void level_words(uint64_t k0, uint64_t k1, uint64_t c, uint64_t a, uint64_t *blk, int nw,
                        uint64_t *restrict w)
{
    for (int j = 0; 4 * j < nw; j++) philox_block(k0, k1, ++*blk, 0, c, a, w + 4 * j);
}

/* Kernels for one mean: attempt a of the n elements idx[0..n) (idx NULL:
 * elements 0..n-1), in order. Each writes out[i] = the value, or -1 and i to
 * pend[] (which may be idx itself), and returns the number pending. */
static RNG_INLINE int inv_attempts(uint64_t k0, uint64_t k1, uint64_t c, uint64_t a, const inv_table *t,
                                   int64_t *restrict out, const uint16_t *idx, int n, uint16_t *pend)
{
    uint64_t w[BATCH_WORDS], blk = 0;
    int np = 0;
    for (int b = 0; b < n; b += BATCH_WORDS) {
        int nw = n - b < BATCH_WORDS ? n - b : BATCH_WORDS;
        level_words(k0, k1, c, a, &blk, nw, w);
        for (int j = 0; j < nw; j++) {
            int i = idx ? idx[b + j] : b + j;
            int k = inv_tab_word(t, w[j]);
            out[i] = k;
            pend[np] = (uint16_t)i;
            np += k < 0;
        }
    }
    return np;
}

/* PTRS attempts without branches: the proposal and all acceptance tests (with
 * a pmf table, step 4 is a lookup; without, or outside it, the direct test). */
static RNG_INLINE int ptrs_attempts_flat(uint64_t k0, uint64_t k1, uint64_t c, uint64_t a,
                                         const ptrs_consts *p, int64_t *restrict out, const uint16_t *idx,
                                         int n, uint16_t *pend)
{
    uint64_t w[BATCH_WORDS], blk = 0;
    static const double no_table = 0.0;
    const double *pmf = p->pmf ? p->pmf : &no_table;
    double lo = p->lo, hi = p->hi;
    int np = 0;
    for (int b = 0; b < n; b += PTRS_BATCH) {
        int na = n - b < PTRS_BATCH ? n - b : PTRS_BATCH;
        level_words(k0, k1, c, a, &blk, 2 * na, w);
        for (int j = 0; j < na; j++) {
            int i = idx ? idx[b + j] : b + j;
            ptrs_try t = ptrs_propose(&p->m, w[2 * j], w[2 * j + 1]);
            int ok = (t.x >= 0.0) & (t.x < PTRS_KMAX);
            int fast = (t.us >= 0.07) & (t.V * p->m.bm2 <= p->m.vrb);
            int squeeze = (t.us < 0.013) & (t.V > t.us);
            double xs = ok ? t.x : 0.0;
            int64_t k = (int64_t)xs;
            double kd = (double)k, us2 = t.us * t.us;
            int intab = (kd >= lo) & (kd < hi);
            double pk = pmf[intab ? (int64_t)(kd - lo) : 0];
            int step4 = PTRS_STEP4(&p->m, p->invalpha, t.V, us2, pk);
            int slow = ok & !fast & !squeeze;
            int acc = fast | (slow & intab & step4);
            if (slow & !intab) acc = ptrs_accept(p, k, t.V, t.us);
            out[i] = k | ((int64_t)acc - 1); /* k or -1, without a branch */
            pend[np] = (uint16_t)i;
            np += !acc;
        }
    }
    return np;
}

/* The same attempts with ordinary branches: faster once the fast acceptance is
 * well predicted (large lam), slower below. */
static RNG_INLINE int ptrs_attempts_branchy(uint64_t k0, uint64_t k1, uint64_t c, uint64_t a,
                                            const ptrs_consts *p, int64_t *restrict out, const uint16_t *idx,
                                            int n, uint16_t *pend)
{
    uint64_t w[BATCH_WORDS], blk = 0;
    int np = 0;
    for (int b = 0; b < n; b += PTRS_BATCH) {
        int na = n - b < PTRS_BATCH ? n - b : PTRS_BATCH;
        level_words(k0, k1, c, a, &blk, 2 * na, w);
        for (int j = 0; j < na; j++) {
            int i = idx ? idx[b + j] : b + j;
            ptrs_try t = ptrs_propose(&p->m, w[2 * j], w[2 * j + 1]);
            if (PTRS_FAST(&p->m, t.us, t.V)) {
                out[i] = (int64_t)t.x;
            } else if (t.x >= 0.0 && t.x < PTRS_KMAX && !(t.us < 0.013 && t.V > t.us) &&
                       ptrs_accept(p, (int64_t)t.x, t.V, t.us)) {
                out[i] = (int64_t)t.x;
            } else {
                out[i] = -1;
                pend[np++] = (uint16_t)i;
            }
        }
    }
    return np;
}

/* The squeeze for a batch of attempts that were not fast: dec[q] = 0 when the
 * attempt is out of range or squeezed out (rejected before step 4), else the
 * squeeze's 1, 0 or -1. Vectorised: no branches, no calls. */
RNG_SIMD_CLONES static void ptrs_squeeze_batch(int n, const double *restrict x, const double *restrict k,
                                               const double *restrict lam, const double *restrict b,
                                               const double *restrict V, const double *restrict us,
                                               double *restrict dec)
{
    for (int q = 0; q < n; q++) {
        double xq = x[q], uq = us[q], vq = V[q];
        int ok = (xq >= 0.0) & (xq < PTRS_KMAX) & !((uq < 0.013) & (vq > uq));
        double d = ptrs_squeeze(k[q], lam[q], b[q], vq, uq * uq);
        dec[q] = ok ? d : 0.0;
    }
}

/* Attempts of PTRS elements that were not fast, gathered in element order
 * (up to PTRS_GROUP at a time) and finished together: their step-4 squeezes
 * as one vectorised loop, the rare undecided ones with the exact test. */
enum { PTRS_GROUP = 256 };

typedef struct ptrs_pending {
    int n;
    uint16_t i[PTRS_GROUP];
    double x[PTRS_GROUP], k[PTRS_GROUP], lam[PTRS_GROUP], b[PTRS_GROUP], V[PTRS_GROUP], us[PTRS_GROUP];
} ptrs_pending;

/* Finishes the gathered attempts: accepted ones set out[], rejected ones are
 * appended to pend[np...]. Returns the new np. */
static int ptrs_finish(ptrs_pending *g, int64_t *restrict out, uint16_t *restrict pend, int np)
{
    double dec[PTRS_GROUP];
    ptrs_squeeze_batch(g->n, g->x, g->k, g->lam, g->b, g->V, g->us, dec);
    for (int q = 0; q < g->n; q++) {
        int acc = dec[q] > 0.0;
        if (dec[q] < 0.0) {
            ptrs_mean pm;
            ptrs_mean_from_b(&pm, g->lam[q], g->b[q]);
            acc = PTRS_STEP4(&pm, ptrs_invalpha(g->b[q]), g->V[q], g->us[q] * g->us[q],
                             ptrs_pmf(g->k[q], g->lam[q]));
        }
        out[g->i[q]] = (int64_t)g->k[q] | ((int64_t)acc - 1); /* k or -1, without a branch */
        pend[np] = g->i[q];
        np += !acc;
    }
    g->n = 0;
    return np;
}

/* Attempt a of the n elements idx[0..n) (idx NULL: elements 0..n-1) with
 * one mean per element, in one pass: an inversion takes one word through the
 * cell table, a PTRS element two words and decides the fast acceptance (the
 * other attempts are gathered and finished together), lam = 0 gives 0. The
 * elements still pending go to pend[] (which may be idx), in order; returns
 * their number. */
static int array_attempts(uint64_t k0, uint64_t k1, uint64_t c, uint64_t a, const double *restrict lam,
                          int64_t *restrict out, const uint16_t *idx, int n, uint16_t *pend)
{
    uint64_t w[2 * FSCI_RNG_CHUNK + ARRAY_WORDS], blk = 0;
    uint16_t ir[FSCI_RNG_CHUNK], pr[FSCI_RNG_CHUNK]; /* still pending: inversion, PTRS */
    ptrs_pending g;
    int pos = 0, have = 0, nir = 0, npr = 0;
    g.n = 0;
    for (int j = 0; j < n; j++) {
        int i = idx ? idx[j] : j;
        double l = lam[i];
        if (pos + 2 > have) { /* the next words of level a */
            level_words(k0, k1, c, a, &blk, ARRAY_WORDS, w + have);
            have += ARRAY_WORDS;
        }
        if (l >= FSCI_RNG_POISSON_SWITCH) {
            ptrs_mean pm;
            ptrs_mean_from_b(&pm, l, ptrs_b(l));
            ptrs_try t = ptrs_propose(&pm, w[pos], w[pos + 1]);
            pos += 2;
            int fast = (t.us >= 0.07) & (t.V * pm.bm2 <= pm.vrb);
            double xc = t.x > -1.0 ? t.x : -1.0; /* any x converts safely; fast ones are in range */
            int64_t k = (int64_t)(xc < PTRS_KMAX ? xc : PTRS_KMAX);
            out[i] = k | ((int64_t)fast - 1); /* k or -1, without a branch */
            int q = g.n;
            g.i[q] = (uint16_t)i;
            g.x[q] = t.x;
            g.k[q] = (double)k;
            g.lam[q] = l;
            g.b[q] = pm.b;
            g.V[q] = t.V;
            g.us[q] = t.us;
            g.n += !fast;
            if (g.n == PTRS_GROUP) npr = ptrs_finish(&g, out, pr, npr);
        } else if (l > 0.0) {
            int k = inv_cell_word(l, w[pos++]);
            out[i] = k;
            ir[nir] = (uint16_t)i;
            nir += k < 0;
        } else {
            out[i] = 0;
        }
    }
    npr = ptrs_finish(&g, out, pr, npr);
    /* merge the two pending lists, in element order (ir is almost always empty) */
    int x = 0, y = 0, m = 0;
    while (x < nir || y < npr) pend[m++] = y == npr || (x < nir && ir[x] < pr[y]) ? ir[x++] : pr[y++];
    return m;
}

/* Everything a Poisson fill's chunks share. */
typedef struct poisson_job {
    const double *lam;
    int scalar;
    inv_table tab;
    ptrs_consts pc;
} poisson_job;

static void poisson_chunk(const poisson_job *job, uint64_t k0, uint64_t k1, uint64_t c, int64_t *restrict out,
                          int64_t m64)
{
    int m = (int)m64, n = 0;
    uint16_t pend[FSCI_RNG_CHUNK];
    if (!job->scalar) {
        const double *lam = job->lam + c * FSCI_RNG_CHUNK;
        n = array_attempts(k0, k1, c, 0, lam, out, NULL, m, pend);
        for (uint64_t a = 1; n > 0; a++) n = array_attempts(k0, k1, c, a, lam, out, pend, n, pend);
        return;
    }
    double lam = job->lam[0];
    if (lam == 0.0) {
        for (int i = 0; i < m; i++) out[i] = 0;
        return;
    }
    /* level 0 (every element, idx NULL) and the others are separate calls,
     * so that the inlined kernels are specialised for each */
    if (lam < FSCI_RNG_POISSON_SWITCH) {
        n = inv_attempts(k0, k1, c, 0, &job->tab, out, NULL, m, pend);
        for (uint64_t a = 1; n > 0; a++) n = inv_attempts(k0, k1, c, a, &job->tab, out, pend, n, pend);
    } else if (lam < 300.0) { /* measured crossover of the two kernels: between lam = 100 and 1000 */
        n = ptrs_attempts_flat(k0, k1, c, 0, &job->pc, out, NULL, m, pend);
        for (uint64_t a = 1; n > 0; a++) n = ptrs_attempts_flat(k0, k1, c, a, &job->pc, out, pend, n, pend);
    } else {
        n = ptrs_attempts_branchy(k0, k1, c, 0, &job->pc, out, NULL, m, pend);
        for (uint64_t a = 1; n > 0; a++)
            n = ptrs_attempts_branchy(k0, k1, c, a, &job->pc, out, pend, n, pend);
    }
}

int fsci_rng_fill_poisson(uint64_t seed, uint64_t stream, const double *lam, int64_t nlam, int64_t *out,
                          int64_t n, int nthreads)
{
    CHECK_FILL_ARGS(out, n);
    FSCI_CHECK(nlam == 1 || nlam == n, FSCI_EINVAL, "%s: lam has %lld entries; expected 1 or n = %lld",
               __func__, (long long)nlam, (long long)n);
    FSCI_CHECK(nlam == 0 || lam, FSCI_EINVAL, "%s: lam is NULL", __func__);
    if (n == 0) return FSCI_OK;

    /* Validate every mean before writing anything: a branch-free (vectorised)
     * pass, then a search for the first bad index only if there is one. */
    double bad_seen = 0.0;
    for (int64_t i = 0; i < nlam; i++)
        bad_seen = (lam[i] >= 0.0) & (lam[i] <= FSCI_RNG_POISSON_MAX) ? bad_seen : 1.0;
    if (bad_seen != 0.0) {
        int64_t bad = 0;
        while (poisson_lam_ok(lam[bad])) bad++;
        FSCI_CHECK(0, FSCI_EINVAL,
                   "%s: lam[%lld] = %.17g is not a valid Poisson mean (need a finite value in [0, %g])",
                   __func__, (long long)bad, lam[bad], FSCI_RNG_POISSON_MAX);
    }

    poisson_job job = {.lam = lam, .scalar = nlam == 1};
    double *pmf = NULL;
    if (job.scalar) {
        if (lam[0] > 0.0 && lam[0] < FSCI_RNG_POISSON_SWITCH) inv_build(&job.tab, lam[0]);
        if (lam[0] >= FSCI_RNG_POISSON_SWITCH) {
            ptrs_setup(&job.pc, lam[0]);
            pmf = ptrs_table(&job.pc, n);
        }
    } else {
        pthread_once(&inv_cell_once, inv_cell_build);
    }
    const poisson_job *jp = &job;
    FOR_EACH_CHUNK(poisson_chunk, "omp parallel for num_threads(nt_) schedule(dynamic, 8)", out, n, nthreads,
                   jp, seed, stream);
    fsci_free(pmf);
    return FSCI_OK;
}
