// Placeholder until the calibrators land (helper-calib writes them).
#include "qcal/calibrators.h"
