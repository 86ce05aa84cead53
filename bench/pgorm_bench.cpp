// pgorm, sync: the tracked path (Session::execute / get / add / commit, objects as shared_ptr in
// the identity map) and, where a workload only reads, the untracked Session::values() path.
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "models.hpp"  // examples/todo: the seed's schema

namespace bench {
namespace {

using pgorm::col;
using pgorm::select;
using todo::Todo;
using todo::User;

Todo to_model(const TodoRow& row) {
  Todo t;
  t.title = row.title;
  t.description = row.description;
  t.status = todo::TodoStatus::pending;
  t.user_id = row.user_id;
  return t;
}

std::vector<Todo> new_models(int n) {
  std::vector<Todo> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(to_model(new_todo(i)));
  return out;
}

auto list_query(int k) {
  return select<Todo>()
      .where(col<&Todo::status> == todo::TodoStatus::pending && col<&Todo::title>.ilike("%milk%"))
      .order_by(col<&Todo::created_at>.desc())
      .offset(list_offset(k))
      .limit(kPageSize);
}

template <class T>
std::int32_t id_of(const std::shared_ptr<T>& p) {
  return p->id;
}
template <class T>
std::int32_t id_of(const T& v) {
  return v.id;
}
template <class T>
std::int32_t user_of(const std::shared_ptr<T>& p) {
  return p->user_id;
}
template <class T>
std::int32_t user_of(const T& v) {
  return v.user_id;
}

// Users with their todos through the relationship: select<User>() with selectin(&User::todos),
// the same two statements the hand-written version sends, grouped by the session.
std::int64_t users_with_todos_selectin(pgorm::Session& s) {
  auto users = s.execute(select<User>()
                             .where(col<&User::id> <= kUsersLoaded)
                             .order_by(col<&User::id>)
                             .options(pgorm::selectin(&User::todos)));
  std::int64_t n = 0;
  for (const auto& u : users) n += static_cast<std::int64_t>(u->todos.size());
  return n;
}

// Users with their todos, two queries by hand: the users, then todos with user_id = ANY(ids).
template <bool Tracked>
std::int64_t users_with_todos(pgorm::Session& s) {
  auto users_query = select<User>().where(col<&User::id> <= kUsersLoaded).order_by(col<&User::id>);
  auto users = [&] {
    if constexpr (Tracked)
      return s.execute(users_query);
    else
      return s.values(users_query);
  }();
  std::vector<std::int32_t> ids;
  ids.reserve(users.size());
  for (const auto& u : users) ids.push_back(id_of(u));
  auto todos_query = select<Todo>().where(col<&Todo::user_id>.in(ids));
  auto todos = [&] {
    if constexpr (Tracked)
      return s.execute(todos_query);
    else
      return s.values(todos_query);
  }();
  auto grouped = group_by_user(
      users, todos, [](const auto& u) { return id_of(u); },
      [](const auto& t) { return user_of(t); });
  std::int64_t n = 0;
  for (const auto& g : grouped) n += static_cast<std::int64_t>(g.size());
  return n;
}

std::int64_t object_bytes(const Todo& t) {
  return static_cast<std::int64_t>(sizeof(Todo)) + heap_bytes(t.title) +
         (t.description ? heap_bytes(*t.description) : 0);
}

}  // namespace

// The raw contenders send the SQL pgorm renders: fail loudly if the two ever drift apart.
void check_pgorm_sql() {
  auto expect = [](const std::string& got, const std::string& want) {
    if (got != want)
      throw std::runtime_error("bench: pgorm renders\n  " + got +
                               "\nbut the raw contenders send\n  " + want +
                               "\n(update bench/common.hpp)");
  };
  expect(select<Todo>().where(col<&Todo::id> <= kLoadSmall).statement().sql, sql::kLoadUpTo);
  expect(select<Todo>().statement().sql, sql::kLoadAll);
  expect(
      select<User>().where(col<&User::id> <= kUsersLoaded).order_by(col<&User::id>).statement().sql,
      sql::kUsersUpTo);
  expect(select<Todo>().where(col<&Todo::user_id>.in(std::vector<std::int32_t>{1})).statement().sql,
         sql::kTodosOfUsers);
  expect(list_query(1).statement().sql, sql::kList);
}

// The flush's UPDATE of many objects, seen as sent (rolled back).
void check_pgorm_flush_sql(const std::string& conninfo) {
  std::string sent;
  pgorm::EngineOptions options;
  options.hooks.before_statement = [&](const pgorm::StatementEvent& e) {
    if (e.sql.rfind("UPDATE", 0) == 0) sent = std::string(e.sql);
  };
  pgorm::Engine engine(conninfo, options);
  pgorm::Session s(engine);
  auto tx = s.begin();
  for (auto& t : s.execute(select<Todo>().where(col<&Todo::id> <= 2))) t->description = "check";
  s.flush();
  tx.rollback();
  if (sent != sql::kUpdateDescriptions)
    throw std::runtime_error("bench: pgorm's flush sends\n  " + sent +
                             "\nbut the raw contenders send\n  " + sql::kUpdateDescriptions +
                             "\n(update bench/common.hpp)");
}

void register_pgorm(Registry& registry, const std::string& conninfo) {
  check_pgorm_sql();
  check_pgorm_flush_sql(conninfo);
  auto engine = std::make_shared<pgorm::Engine>(conninfo);
  {
    // Open the pooled connection now, as the raw contenders open theirs before measuring.
    pgorm::Session s(*engine);
    s.get<Todo>(1);
  }
  const std::string tracked = "pgorm";
  const std::string values = "pgorm values()";

  registry.add("insert_one", tracked, [engine] {
    auto rows = new_models(kInsertOne);
    Outcome o;
    o.seconds = timed([&] {
      for (auto& t : rows) {
        pgorm::Session s(*engine);
        auto added = s.add(std::move(t));
        s.commit();
        o.rows += added->id > 0;
      }
    });
    return o;
  });

  registry.add("bulk_insert", "pgorm add_all+commit", [engine] {
    auto rows = new_models(kBulk);
    Outcome o;
    o.seconds = timed([&] {
      pgorm::Session s(*engine);
      auto added = s.add_all(rows);
      s.commit();
      for (const auto& t : added) o.rows += t->id > 0;
    });
    return o;
  });

  registry.add("bulk_insert", "pgorm insert().values()", [engine] {
    auto rows = new_models(kBulk);
    Outcome o;
    o.seconds = timed([&] {
      pgorm::Session s(*engine);
      o.rows = s.execute(pgorm::insert<Todo>().values(rows));
      s.commit();
    });
    return o;
  });

  registry.add("get_pk", tracked, [engine] {
    Outcome o;
    o.seconds = timed([&] {
      for (int k = 0; k < kGets; ++k) {
        pgorm::Session s(*engine);  // a fresh session each time: no identity-map hits
        auto t = s.get<Todo>(lookup_id(k));
        o.rows += t != nullptr;
      }
    });
    return o;
  });

  registry.add("get_pk", values, [engine] {
    Outcome o;
    o.seconds = timed([&] {
      for (int k = 0; k < kGets; ++k) {
        pgorm::Session s(*engine);
        auto rows = s.values(select<Todo>().where(col<&Todo::id> == lookup_id(k)));
        o.rows += static_cast<std::int64_t>(rows.size());
      }
    });
    return o;
  });

  registry.add("get_pk_in_tx", tracked, [engine] {
    Outcome o;
    o.seconds = timed([&] {
      for (int k = 0; k < kGets; ++k) {
        pgorm::Session s(*engine);
        auto tx = s.begin();
        auto t = s.get<Todo>(lookup_id(k));
        tx.commit();
        o.rows += t != nullptr;
      }
    });
    return o;
  });

  auto load = [&](const char* workload, auto query) {
    registry.add(workload, tracked, [engine, query] {
      Outcome o;
      o.seconds = timed([&] {
        pgorm::Session s(*engine);
        auto todos = s.execute(query);
        o.rows = static_cast<std::int64_t>(todos.size());
      });
      return o;
    });
    registry.add(workload, values, [engine, query] {
      Outcome o;
      o.seconds = timed([&] {
        pgorm::Session s(*engine);
        auto todos = s.values(query);
        o.rows = static_cast<std::int64_t>(todos.size());
      });
      return o;
    });
  };
  load("load_10k", select<Todo>().where(col<&Todo::id> <= kLoadSmall));
  load("load_100k", select<Todo>());

  registry.add("users_todos", tracked, [engine] {
    Outcome o;
    o.seconds = timed([&] {
      pgorm::Session s(*engine);
      o.rows = users_with_todos_selectin(s);
    });
    return o;
  });
  registry.add("users_todos", values, [engine] {
    Outcome o;
    o.seconds = timed([&] {
      pgorm::Session s(*engine);
      o.rows = users_with_todos<false>(s);
    });
    return o;
  });

  registry.add("update_1000", tracked, [engine] {
    long run = next_update_run();
    Outcome o;
    o.seconds = timed([&] {
      pgorm::Session s(*engine);
      auto todos = s.execute(select<Todo>().where(col<&Todo::id> <= kUpdates));
      for (auto& t : todos) t->description = updated_description(run, t->id);
      s.commit();
      o.rows = static_cast<std::int64_t>(todos.size());
    });
    return o;
  });

  registry.add("list_page", tracked, [engine] {
    Outcome o;
    o.seconds = timed([&] {
      for (int k = 0; k < kListQueries; ++k) {
        pgorm::Session s(*engine);
        o.rows += static_cast<std::int64_t>(s.execute(list_query(k)).size());
      }
    });
    return o;
  });
  registry.add("list_page", values, [engine] {
    Outcome o;
    o.seconds = timed([&] {
      for (int k = 0; k < kListQueries; ++k) {
        pgorm::Session s(*engine);
        o.rows += static_cast<std::int64_t>(s.values(list_query(k)).size());
      }
    });
    return o;
  });
}

Loaded load_all_pgorm_tracked(const std::string& conninfo) {
  pgorm::Engine engine(conninfo);
  pgorm::Session s(engine);
  auto todos = s.execute(select<Todo>());
  Loaded out;
  out.rows = static_cast<std::int64_t>(todos.size());
  out.object_bytes = static_cast<std::int64_t>(todos.capacity() * sizeof(todos[0]));
  for (const auto& t : todos) out.object_bytes += object_bytes(*t);
  return out;
}

Loaded load_all_pgorm_values(const std::string& conninfo) {
  pgorm::Engine engine(conninfo);
  pgorm::Session s(engine);
  auto todos = s.values(select<Todo>());
  Loaded out;
  out.rows = static_cast<std::int64_t>(todos.size());
  out.object_bytes = static_cast<std::int64_t>((todos.capacity() - todos.size()) * sizeof(Todo));
  for (const auto& t : todos) out.object_bytes += object_bytes(t);
  return out;
}

// The seed's schema, through pgorm's own DDL (so the benchmark measures the schema users get).
void create_schema(const std::string& conninfo) {
  pgorm::Connection c(conninfo);
  auto metadata = todo::metadata();
  metadata.drop_all(c);
  metadata.create_all(c);
}

}  // namespace bench
