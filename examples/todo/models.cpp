// The models' code, compiled once for the app and its migration tool (see PGORM_EXTERN_MODEL in
// models.hpp).
#include "models.hpp"

PGORM_INSTANTIATE_MODEL(todo::User);
PGORM_INSTANTIATE_MODEL(todo::Todo);
