// todo-migrate: the todo app's migration command, Alembic's workflow over the app's models.
//   todo-migrate upgrade head
//   todo-migrate revision --autogenerate -m "add priority to todos"
//   todo-migrate downgrade -1
#include <pgorm/migrate/migrate.hpp>

#include "models.hpp"

int main(int argc, char** argv) {
  return pgorm::migrate::main(argc, argv, todo::metadata());
}
