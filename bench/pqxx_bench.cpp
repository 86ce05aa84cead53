// Hand-written libpqxx 6.4, used the way its documentation shows: prepared statements,
// pqxx::work for writes (BEGIN/COMMIT round trips included), pqxx::nontransaction for reads,
// stream_to for bulk inserts. Results decoded by hand with the same decoders as raw libpq.
#include <pqxx/pqxx>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "common.hpp"

namespace bench {
namespace {

std::string_view view(const pqxx::field& f) {
  return {f.c_str(), f.size()};
}

TodoRow decode_todo(const pqxx::row& row) {
  TodoRow t;
  t.id = parse_int(view(row[0]));
  t.title.assign(view(row[1]));
  if (!row[2].is_null()) t.description.emplace(view(row[2]));
  t.status = parse_status(view(row[3]));
  t.user_id = parse_int(view(row[4]));
  t.created_at = parse_timestamp(view(row[5]));
  t.updated_at = parse_timestamp(view(row[6]));
  if (!row[7].is_null()) t.deleted_at = parse_timestamp(view(row[7]));
  return t;
}

std::vector<TodoRow> decode_todos(const pqxx::result& r) {
  std::vector<TodoRow> out;
  out.reserve(r.size());
  for (const auto& row : r) out.push_back(decode_todo(row));
  return out;
}

std::unique_ptr<pqxx::connection> open(const std::string& conninfo) {
  auto c = std::make_unique<pqxx::connection>(conninfo);
  {
    pqxx::nontransaction setup(*c);
    setup.exec("SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET client_encoding = 'UTF8'");
  }
  c->prepare("get", sql::kGetTodo);
  c->prepare("load_up_to", sql::kLoadUpTo);
  c->prepare("load_all", sql::kLoadAll);
  c->prepare("users_up_to", sql::kUsersUpTo);
  c->prepare("todos_of_users", sql::kTodosOfUsers);
  c->prepare("list", sql::kList);
  c->prepare("insert", std::string(sql::kInsertTodo));
  c->prepare("update", std::string(sql::kUpdateDescription));
  return c;
}

}  // namespace

void register_pqxx(Registry& registry, const std::string& conninfo) {
  std::shared_ptr<pqxx::connection> c = open(conninfo);
  const std::string name = "libpqxx";

  registry.add("insert_one", name, [c] {
    std::vector<TodoRow> rows;
    for (int i = 0; i < kInsertOne; ++i) rows.push_back(new_todo(i));
    Outcome o;
    o.seconds = timed([&] {
      for (const auto& t : rows) {
        pqxx::work w(*c);
        auto r = w.exec_prepared1("insert", t.title, t.description,
                                  std::string(status_text(t.status)), t.user_id);
        w.commit();
        o.rows += r[0].as<int>() > 0;
      }
    });
    return o;
  });

  registry.add("bulk_insert", "libpqxx stream_to", [c] {
    std::vector<TodoRow> rows;
    for (int i = 0; i < kBulk; ++i) rows.push_back(new_todo(i));
    Outcome o;
    o.seconds = timed([&] {
      pqxx::work w(*c);
      pqxx::stream_to stream(w, "todos",
                             std::vector<std::string>{"title", "description", "status", "user_id"});
      for (const auto& t : rows) {
        stream << std::make_tuple(t.title, t.description, std::string(status_text(t.status)),
                                  t.user_id);
        ++o.rows;
      }
      stream.complete();
      w.commit();
    });
    return o;
  });

  registry.add("get_pk", name, [c] {
    Outcome o;
    o.seconds = timed([&] {
      for (int k = 0; k < kGets; ++k) {
        pqxx::nontransaction tx(*c);
        auto r = tx.exec_prepared("get", lookup_id(k));
        if (r.size() == 1) o.rows += decode_todo(r[0]).id > 0;
      }
    });
    return o;
  });

  registry.add("get_pk_in_tx", name, [c] {
    Outcome o;
    o.seconds = timed([&] {
      for (int k = 0; k < kGets; ++k) {
        pqxx::work w(*c);
        auto r = w.exec_prepared("get", lookup_id(k));
        if (r.size() == 1) o.rows += decode_todo(r[0]).id > 0;
        w.commit();
      }
    });
    return o;
  });

  registry.add("load_10k", name, [c] {
    Outcome o;
    o.seconds = timed([&] {
      pqxx::nontransaction tx(*c);
      auto todos = decode_todos(tx.exec_prepared("load_up_to", kLoadSmall));
      o.rows = static_cast<std::int64_t>(todos.size());
    });
    return o;
  });

  registry.add("load_100k", name, [c] {
    Outcome o;
    o.seconds = timed([&] {
      pqxx::nontransaction tx(*c);
      auto todos = decode_todos(tx.exec_prepared("load_all"));
      o.rows = static_cast<std::int64_t>(todos.size());
    });
    return o;
  });

  registry.add("users_todos", name, [c] {
    Outcome o;
    o.seconds = timed([&] {
      pqxx::nontransaction tx(*c);
      auto ur = tx.exec_prepared("users_up_to", kUsersLoaded);
      std::vector<UserRow> users;
      users.reserve(ur.size());
      std::string ids = "{";
      for (const auto& row : ur) {
        UserRow u;
        u.id = parse_int(view(row[0]));
        u.email.assign(view(row[1]));
        u.created_at = parse_timestamp(view(row[2]));
        u.updated_at = parse_timestamp(view(row[3]));
        if (ids.size() > 1) ids.push_back(',');
        ids += std::to_string(u.id);
        users.push_back(std::move(u));
      }
      ids.push_back('}');
      auto todos = decode_todos(tx.exec_prepared("todos_of_users", ids));
      auto grouped = group_by_user(
          users, todos, [](const UserRow& u) { return u.id; },
          [](const TodoRow& t) { return t.user_id; });
      for (const auto& g : grouped) o.rows += static_cast<std::int64_t>(g.size());
    });
    return o;
  });

  registry.add("update_1000", name, [c] {
    long run = next_update_run();
    Outcome o;
    o.seconds = timed([&] {
      std::vector<TodoRow> todos;
      {
        pqxx::nontransaction tx(*c);
        todos = decode_todos(tx.exec_prepared("load_up_to", kUpdates));
      }
      for (auto& t : todos) t.description = updated_description(run, t.id);
      pqxx::work w(*c);
      for (const auto& t : todos) {
        w.exec_prepared0("update", *t.description, t.id);
        ++o.rows;
      }
      w.commit();
    });
    return o;
  });

  registry.add("list_page", name, [c] {
    Outcome o;
    o.seconds = timed([&] {
      for (int k = 0; k < kListQueries; ++k) {
        pqxx::nontransaction tx(*c);
        auto r = tx.exec_prepared("list", "pending", "%milk%", kPageSize, list_offset(k));
        o.rows += static_cast<std::int64_t>(decode_todos(r).size());
      }
    });
    return o;
  });
}

}  // namespace bench
