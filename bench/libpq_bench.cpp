// The floor: hand-written libpq with named prepared statements and text results, decoded into
// plain structs by hand. Every workload uses the fewest round trips libpq allows.
#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

#include "common.hpp"

namespace bench {
namespace {

class Pq {
 public:
  explicit Pq(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK)
      throw std::runtime_error(std::string("libpq: cannot connect: ") + PQerrorMessage(conn_));
    // The same session settings pgorm uses, so the server formats values the same way.
    exec("SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET client_encoding = 'UTF8'");
    prepare("get", sql::kGetTodo);
    prepare("load_up_to", sql::kLoadUpTo);
    prepare("load_all", sql::kLoadAll);
    prepare("users_up_to", sql::kUsersUpTo);
    prepare("todos_of_users", sql::kTodosOfUsers);
    prepare("list", sql::kList);
    prepare("insert", sql::kInsertTodo);
    prepare("update", sql::kUpdateDescription);
    prepare("update_all", sql::kUpdateDescriptions);
  }
  ~Pq() { PQfinish(conn_); }
  Pq(const Pq&) = delete;
  Pq& operator=(const Pq&) = delete;

  PGconn* get() const { return conn_; }

  void exec(const char* text) { check(PQexec(conn_, text), PGRES_COMMAND_OK); }

  // Runs a prepared statement; the result is owned by the caller.
  std::unique_ptr<PGresult, decltype(&PQclear)> run(const char* name, int n,
                                                    const char* const* values,
                                                    ExecStatusType expected = PGRES_TUPLES_OK) {
    PGresult* r = PQexecPrepared(conn_, name, n, values, nullptr, nullptr, 0);
    check_keep(r, expected);
    return {r, &PQclear};
  }

  void check(PGresult* r, ExecStatusType expected) {
    check_keep(r, expected);
    PQclear(r);
  }
  void check_keep(PGresult* r, ExecStatusType expected) {
    if (PQresultStatus(r) != expected) {
      std::string message = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error("libpq: " + message);
    }
  }

 private:
  void prepare(const char* name, std::string_view text) {
    check(PQprepare(conn_, name, std::string(text).c_str(), 0, nullptr), PGRES_COMMAND_OK);
  }
  PGconn* conn_;
};

std::string_view field(const PGresult* r, int row, int column) {
  return {PQgetvalue(r, row, column), static_cast<std::size_t>(PQgetlength(r, row, column))};
}

TodoRow decode_todo(const PGresult* r, int row) {
  TodoRow t;
  t.id = parse_int(field(r, row, 0));
  t.title.assign(field(r, row, 1));
  if (!PQgetisnull(r, row, 2)) t.description.emplace(field(r, row, 2));
  t.status = parse_status(field(r, row, 3));
  t.user_id = parse_int(field(r, row, 4));
  t.created_at = parse_timestamp(field(r, row, 5));
  t.updated_at = parse_timestamp(field(r, row, 6));
  if (!PQgetisnull(r, row, 7)) t.deleted_at = parse_timestamp(field(r, row, 7));
  return t;
}

std::vector<TodoRow> decode_todos(const PGresult* r) {
  int n = PQntuples(r);
  std::vector<TodoRow> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(decode_todo(r, i));
  return out;
}

// The live todos with id <= last, decoded (the prepared "load_up_to").
std::vector<TodoRow> load_up_to(Pq& pq, int last) {
  const std::string limit = std::to_string(last);
  const char* values[] = {limit.c_str()};
  return decode_todos(pq.run("load_up_to", 1, values).get());
}

// COPY text format: backslash, tab and newline are escaped.
void append_copy_text(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out.push_back(c);
    }
  }
}

struct InsertParams {
  std::string user_id;
  const char* values[4];
  explicit InsertParams(const TodoRow& t) : user_id(std::to_string(t.user_id)) {
    values[0] = t.title.c_str();
    values[1] = t.description ? t.description->c_str() : nullptr;
    values[2] = status_text(t.status).data();
    values[3] = user_id.c_str();
  }
};

}  // namespace

void register_libpq(Registry& registry, const std::string& conninfo) {
  auto pq = std::make_shared<Pq>(conninfo);
  const std::string name = "libpq";

  registry.add("insert_one", name, [pq] {
    std::vector<TodoRow> rows;
    for (int i = 0; i < kInsertOne; ++i) rows.push_back(new_todo(i));
    Outcome o;
    o.seconds = timed([&] {
      for (const auto& t : rows) {
        InsertParams p(t);  // autocommit: the INSERT is its own transaction, one round trip
        auto r = pq->run("insert", 4, p.values);
        o.rows += parse_int(field(r.get(), 0, 0)) > 0;
      }
    });
    return o;
  });

  registry.add("bulk_insert", "libpq COPY", [pq] {
    std::vector<TodoRow> rows;
    for (int i = 0; i < kBulk; ++i) rows.push_back(new_todo(i));
    Outcome o;
    o.seconds = timed([&] {
      pq->check(PQexec(pq->get(), std::string(sql::kCopyTodos).c_str()), PGRES_COPY_IN);
      std::string buffer;
      buffer.reserve(1 << 16);
      for (const auto& t : rows) {
        append_copy_text(buffer, t.title);
        buffer.push_back('\t');
        if (t.description)
          append_copy_text(buffer, *t.description);
        else
          buffer += "\\N";
        buffer.push_back('\t');
        buffer += status_text(t.status);
        buffer.push_back('\t');
        buffer += std::to_string(t.user_id);
        buffer.push_back('\n');
        if (buffer.size() > 60000) {
          PQputCopyData(pq->get(), buffer.data(), static_cast<int>(buffer.size()));
          buffer.clear();
        }
      }
      PQputCopyData(pq->get(), buffer.data(), static_cast<int>(buffer.size()));
      PQputCopyEnd(pq->get(), nullptr);
      PGresult* r = PQgetResult(pq->get());
      o.rows = std::stoll(PQcmdTuples(r));
      pq->check(r, PGRES_COMMAND_OK);
      while ((r = PQgetResult(pq->get())) != nullptr) PQclear(r);
    });
    return o;
  });

  // The naive loop the ORM's flush must beat by 8x: one INSERT ... RETURNING per row.
  registry.add("bulk_insert", "libpq row-by-row", [pq] {
    std::vector<TodoRow> rows;
    for (int i = 0; i < kBulk; ++i) rows.push_back(new_todo(i));
    Outcome o;
    o.seconds = timed([&] {
      pq->exec("BEGIN");
      for (auto& t : rows) {
        InsertParams p(t);
        auto r = pq->run("insert", 4, p.values);
        t.id = parse_int(field(r.get(), 0, 0));
        ++o.rows;
      }
      pq->exec("COMMIT");
    });
    return o;
  });

  registry.add("get_pk", name, [pq] {
    Outcome o;
    o.seconds = timed([&] {
      for (int k = 0; k < kGets; ++k) {
        std::string id = std::to_string(lookup_id(k));
        const char* values[] = {id.c_str()};
        auto r = pq->run("get", 1, values);
        if (PQntuples(r.get()) == 1) o.rows += decode_todo(r.get(), 0).id > 0;
      }
    });
    return o;
  });

  // BEGIN, the lookup and COMMIT sent together in pipeline mode: one round trip.
  registry.add("get_pk_in_tx", name, [pq] {
    PGconn* c = pq->get();
    Outcome o;
    o.seconds = timed([&] {
      for (int k = 0; k < kGets; ++k) {
        std::string id = std::to_string(lookup_id(k));
        const char* values[] = {id.c_str()};
        if (!PQenterPipelineMode(c)) throw std::runtime_error("libpq: no pipeline mode");
        PQsendQueryParams(c, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0);
        PQsendQueryPrepared(c, "get", 1, values, nullptr, nullptr, 0);
        PQsendQueryParams(c, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0);
        PQpipelineSync(c);
        for (int q = 0; q < 3; ++q) {
          PGresult* r = PQgetResult(c);
          if (q == 1) {
            pq->check_keep(r, PGRES_TUPLES_OK);
            if (PQntuples(r) == 1) o.rows += decode_todo(r, 0).id > 0;
            PQclear(r);
          } else {
            pq->check(r, PGRES_COMMAND_OK);
          }
          while ((r = PQgetResult(c)) != nullptr) PQclear(r);
        }
        pq->check(PQgetResult(c), PGRES_PIPELINE_SYNC);
        PQexitPipelineMode(c);
      }
    });
    return o;
  });

  registry.add("load_10k", name, [pq] {
    Outcome o;
    o.seconds = timed([&] {
      auto todos = load_up_to(*pq, kLoadSmall);
      o.rows = static_cast<std::int64_t>(todos.size());
    });
    return o;
  });

  registry.add("load_100k", name, [pq] {
    Outcome o;
    o.seconds = timed([&] {
      auto r = pq->run("load_all", 0, nullptr);
      auto todos = decode_todos(r.get());
      o.rows = static_cast<std::int64_t>(todos.size());
    });
    return o;
  });

  // Two queries by hand: the users, then their todos with user_id = ANY($1).
  registry.add("users_todos", name, [pq] {
    Outcome o;
    o.seconds = timed([&] {
      std::string limit = std::to_string(kUsersLoaded);
      const char* uv[] = {limit.c_str()};
      auto ur = pq->run("users_up_to", 1, uv);
      int n = PQntuples(ur.get());
      std::vector<UserRow> users(static_cast<std::size_t>(n));
      std::string ids = "{";
      for (int i = 0; i < n; ++i) {
        UserRow& u = users[static_cast<std::size_t>(i)];
        u.id = parse_int(field(ur.get(), i, 0));
        u.email.assign(field(ur.get(), i, 1));
        u.created_at = parse_timestamp(field(ur.get(), i, 2));
        u.updated_at = parse_timestamp(field(ur.get(), i, 3));
        if (i) ids.push_back(',');
        ids += std::to_string(u.id);
      }
      ids.push_back('}');
      const char* tv[] = {ids.c_str()};
      auto tr = pq->run("todos_of_users", 1, tv);
      auto todos = decode_todos(tr.get());
      auto grouped = group_by_user(
          users, todos, [](const UserRow& u) { return u.id; },
          [](const TodoRow& t) { return t.user_id; });
      for (const auto& g : grouped) o.rows += static_cast<std::int64_t>(g.size());
    });
    return o;
  });

  // Load, change, then BEGIN, every UPDATE and COMMIT in pipeline mode, a Sync every 128
  // statements (as pgorm's flush, so that neither side's socket buffer fills): the fewest round
  // trips libpq allows for this work.
  registry.add("update_1000", name, [pq] {
    long run = next_update_run();
    PGconn* c = pq->get();
    Outcome o;
    o.seconds = timed([&] {
      auto todos = load_up_to(*pq, kUpdates);
      for (auto& t : todos) t.description = updated_description(run, t.id);
      if (!PQenterPipelineMode(c)) throw std::runtime_error("libpq: no pipeline mode");
      int in_flight = 0;
      auto sync = [&] {  // reads the results of the statements sent since the last Sync
        PQpipelineSync(c);
        for (int q = 0; q < in_flight; ++q) {
          pq->check(PQgetResult(c), PGRES_COMMAND_OK);
          while (PGresult* rest = PQgetResult(c)) PQclear(rest);
        }
        pq->check(PQgetResult(c), PGRES_PIPELINE_SYNC);
        in_flight = 0;
      };
      PQsendQueryParams(c, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0);
      ++in_flight;
      for (const auto& t : todos) {
        std::string id = std::to_string(t.id);
        const char* values[] = {t.description->c_str(), id.c_str()};
        if (!PQsendQueryPrepared(c, "update", 2, values, nullptr, nullptr, 0))
          throw std::runtime_error(std::string("libpq: ") + PQerrorMessage(c));
        ++o.rows;
        if (++in_flight == 128) sync();
      }
      PQsendQueryParams(c, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0);
      ++in_flight;
      sync();
      PQexitPipelineMode(c);
    });
    return o;
  });

  // The statement pgorm's flush sends for the same work: BEGIN, one UPDATE ... FROM unnest of
  // every id and description with RETURNING (each row read back, as pgorm does), COMMIT,
  // pipelined together.
  registry.add("update_1000", name + " (same SQL)", [pq] {
    long run = next_update_run();
    PGconn* c = pq->get();
    Outcome o;
    o.seconds = timed([&] {
      auto todos = load_up_to(*pq, kUpdates);
      std::string ids = "{", descriptions = "{";
      for (auto& t : todos) {
        t.description = updated_description(run, t.id);
        if (ids.size() > 1) {
          ids += ',';
          descriptions += ',';
        }
        ids += std::to_string(t.id);
        descriptions += '"';
        for (char ch : *t.description) {
          if (ch == '"' || ch == '\\') descriptions += '\\';
          descriptions += ch;
        }
        descriptions += '"';
      }
      ids += '}';
      descriptions += '}';
      if (!PQenterPipelineMode(c)) throw std::runtime_error("libpq: no pipeline mode");
      const char* values[] = {ids.c_str(), descriptions.c_str()};
      PQsendQueryParams(c, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0);
      PQsendQueryPrepared(c, "update_all", 2, values, nullptr, nullptr, 0);
      PQsendQueryParams(c, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0);
      PQpipelineSync(c);
      pq->check(PQgetResult(c), PGRES_COMMAND_OK);
      while (PGresult* rest = PQgetResult(c)) PQclear(rest);
      {
        PGresult* rows = PQgetResult(c);
        pq->check_keep(rows, PGRES_TUPLES_OK);
        std::unique_ptr<PGresult, decltype(&PQclear)> updated(rows, &PQclear);
        const int n = PQntuples(updated.get());
        for (int i = 0; i < n; ++i) {
          const std::size_t at =
              static_cast<std::size_t>(parse_int(field(updated.get(), i, 8))) - 1;
          todos.at(at) = decode_todo(updated.get(), i);
        }
        o.rows = n;
      }
      while (PGresult* rest = PQgetResult(c)) PQclear(rest);
      pq->check(PQgetResult(c), PGRES_COMMAND_OK);
      while (PGresult* rest = PQgetResult(c)) PQclear(rest);
      pq->check(PQgetResult(c), PGRES_PIPELINE_SYNC);
      PQexitPipelineMode(c);
    });
    return o;
  });

  registry.add("list_page", name, [pq] {
    Outcome o;
    o.seconds = timed([&] {
      for (int k = 0; k < kListQueries; ++k) {
        std::string offset = std::to_string(list_offset(k));
        const std::string limit = std::to_string(kPageSize);
        const char* values[] = {"pending", "%milk%", limit.c_str(), offset.c_str()};
        auto r = pq->run("list", 4, values);
        o.rows += static_cast<std::int64_t>(decode_todos(r.get()).size());
      }
    });
    return o;
  });
}

Loaded load_all_libpq(const std::string& conninfo) {
  Pq pq(conninfo);
  auto r = pq.run("load_all", 0, nullptr);
  auto todos = decode_todos(r.get());
  Loaded out;
  out.rows = static_cast<std::int64_t>(todos.size());
  out.object_bytes = static_cast<std::int64_t>(todos.capacity() * sizeof(TodoRow));
  for (const auto& t : todos)
    out.object_bytes += heap_bytes(t.title) + (t.description ? heap_bytes(*t.description) : 0);
  return out;
}

}  // namespace bench
