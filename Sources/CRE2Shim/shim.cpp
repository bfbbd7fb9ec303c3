#include "CRE2Shim.h"
