// The shared test models' unit-of-work code, instantiated once for the whole test binary (the
// header declares it extern).
#include "support/models.hpp"

PGORM_INSTANTIATE_MODEL(testmodels::User);
PGORM_INSTANTIATE_MODEL(testmodels::Todo);
PGORM_INSTANTIATE_MODEL(testmodels::ApiKey);
PGORM_INSTANTIATE_MODEL(testmodels::Sample);
PGORM_INSTANTIATE_MODEL(testmodels::Order);
PGORM_INSTANTIATE_MODEL(testmodels::Category);
PGORM_INSTANTIATE_MODEL(testmodels::TodoCategory);
PGORM_INSTANTIATE_MODEL(testmodels::Project);
PGORM_INSTANTIATE_MODEL(testmodels::Task);
