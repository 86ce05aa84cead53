// Explicit instantiation of a model's code, for compile time. Every translation unit that runs a
// session on a model instantiates and optimizes that model's unit-of-work code (ModelWork<T>:
// identity map, flush planning, savepoints; tens of kilobytes of machine code per model at -O2)
// and its table description. Declare them extern where the models are declared, and instantiate
// them in one source file of the models' library, at global scope:
//   models.hpp:  PGORM_EXTERN_MODEL(todo::Todo);
//   models.cpp:  PGORM_INSTANTIATE_MODEL(todo::Todo);
// Optional: without it everything works, each translation unit compiling its own copy.
#pragma once

#include "pgorm/model/metadata.hpp"
#include "pgorm/relations/loading.hpp"
#include "pgorm/session/model_work.hpp"

#define PGORM_EXTERN_MODEL(...)                                  \
  extern template class ::pgorm::detail::ModelWork<__VA_ARGS__>; \
  extern template const ::pgorm::TableInfo& ::pgorm::table_info<__VA_ARGS__>()

#define PGORM_INSTANTIATE_MODEL(...)                      \
  template class ::pgorm::detail::ModelWork<__VA_ARGS__>; \
  template const ::pgorm::TableInfo& ::pgorm::table_info<__VA_ARGS__>()
