#include "fastsci/fastsci.h"

const char *fsci_version(void)
{
    return FSCI_VERSION_STRING;
}
