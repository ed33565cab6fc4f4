/* The engine registry: the table every client reads (src/engine_list.h lists the engines). */
#include <string.h>

#include "fastsci/core/engine.h"
#include "engine_list.h"

/* A test build may append engines without editing engine_list.h: it compiles
 * this file with FSCI_EXTRA_ENGINES and a generated engine_list_extra.h that
 * defines FSCI_EXTRA_ENGINE_LIST(X) (tests/CMakeLists.txt, the toy engine). */
#ifdef FSCI_EXTRA_ENGINES
#include "engine_list_extra.h"
#else
#define FSCI_EXTRA_ENGINE_LIST(X)
#endif

#define FSCI_DECLARE_ENGINE(name) extern const fsci_engine fsci_engine_##name;
FSCI_ENGINE_LIST(FSCI_DECLARE_ENGINE)
FSCI_EXTRA_ENGINE_LIST(FSCI_DECLARE_ENGINE)
#define FSCI_ENGINE_ENTRY(name) &fsci_engine_##name,

static const fsci_engine *const engines[] = {FSCI_ENGINE_LIST(FSCI_ENGINE_ENTRY)
                                                 FSCI_EXTRA_ENGINE_LIST(FSCI_ENGINE_ENTRY)};
enum { NENGINES = sizeof engines / sizeof engines[0] };

int fsci_engine_count(void)
{
    return NENGINES;
}

const fsci_engine *fsci_engine_at(int i)
{
    return i >= 0 && i < NENGINES ? engines[i] : NULL;
}

const fsci_engine *fsci_engine_find(const char *name)
{
    for (int i = 0; name && i < NENGINES; i++)
        if (strcmp(engines[i]->name, name) == 0) return engines[i];
    return NULL;
}
