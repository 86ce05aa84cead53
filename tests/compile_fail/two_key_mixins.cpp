// expect: name at most one key mixin
#include <pgorm/pgorm.hpp>

struct Both : pgorm::Model<Both, pgorm::IntKey, pgorm::UuidKey> {};
int main() { return sizeof(Both) > 0 ? 0 : 1; }
