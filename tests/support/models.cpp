// The shared test models' unit-of-work code, instantiated once for the whole test binary (the
// header declares it extern).
#include "support/models.hpp"

PGORM_TEST_MODELS(PGORM_INSTANTIATE_MODEL);
