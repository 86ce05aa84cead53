// Allocation failures injected into Session::commit(), Savepoint::commit() and flush(), one
// allocation at a time: whatever fails, what the call reports must agree with what the server
// committed. (AsyncSession is not run this way: Asio terminates the process on std::bad_alloc in
// some of its noexcept initiations.) This file replaces the global operator new, so it is built as
// an executable of its own (pgorm_fault_tests): the main suite keeps the sanitizers' own
// allocator checks.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <pgorm/pgorm.hpp>

#include "support/db.hpp"

namespace {
// The number of operator new calls on this thread before the one that throws std::bad_alloc;
// negative: none throws. One allocation fails, the ones after it succeed again.
thread_local long allocations_before_failure = -1;
thread_local bool failure_injected = false;

void* allocate(std::size_t size) {
  if (allocations_before_failure >= 0 && allocations_before_failure-- == 0) {
    failure_injected = true;
    throw std::bad_alloc();
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t size) {
  return allocate(size);
}
void* operator new[](std::size_t size) {
  return allocate(size);
}
// The nothrow forms too: what they return is freed by the operator delete below.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace faults {
struct Page;
struct Folder : pgorm::Model<Folder> {
  std::string name;
  pgorm::HasMany<Page> pages;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Folder::name>());
  static constexpr auto relationships =
      pgorm::relationships(pgorm::relation<&Folder::pages>(pgorm::cascade::all_delete_orphan));
};
struct Page : pgorm::Model<Page> {
  std::string body;
  std::int32_t folder_id = 0;
  pgorm::BelongsTo<Folder, &Page::folder_id> folder;
  static constexpr auto relationships =
      pgorm::relationships(pgorm::relation<&Page::folder>(pgorm::back_populates<&Folder::pages>));
  static constexpr auto columns = pgorm::columns(
      pgorm::column<&Page::body>(),
      pgorm::column<&Page::folder_id>(pgorm::foreign_key<&Folder::id>(pgorm::on_delete::cascade)));
};
}  // namespace faults

using namespace pgorm;
using faults::Folder;
using faults::Page;

namespace {

// One unit of work: `change` makes it in a session (nothing written yet) given folder 'a' with
// its pages loaded (or null when `loads` is false), `written` reads back whether the server holds
// all of it and `untouched` whether it holds none of it.
struct UnitOfWork {
  const char* name;
  bool loads;
  std::function<void(Session&, const std::shared_ptr<Folder>&)> change;
  std::function<bool(test::TestSchema&)> written;
  std::function<bool(test::TestSchema&)> untouched;
};

// Folder 'a' with pages a1, a2 and a3. Nothing here depends on the keys the sequences give: the
// server process of a connection discarded by the attempt before may still be running the
// statements it had received (and consuming sequence values) before it rolls back.
void seed(test::TestSchema& db) {
  db.conn().exec("TRUNCATE folders, pages");
  db.conn().exec("INSERT INTO folders (name) VALUES ('a')");
  db.conn().exec(
      "INSERT INTO pages (body, folder_id) SELECT body, folders.id FROM folders, "
      "unnest(ARRAY['a1', 'a2', 'a3']) AS body WHERE folders.name = 'a'");
}

std::int64_t count(test::TestSchema& db, std::string_view table, std::string_view where) {
  return db.scalar<std::int64_t>(fmt::format("SELECT count(*) FROM {} WHERE {}", table, where));
}

const auto with_pages = select<Folder>().options(selectin(&Folder::pages));

std::shared_ptr<Page> page(const std::shared_ptr<Folder>& folder, std::string_view body) {
  for (const auto& p : folder->pages)
    if (p->body == body) return p;
  FAIL("no page " << body);
  return nullptr;
}

std::shared_ptr<Page> new_page(std::string body) {
  auto p = std::make_shared<Page>();
  p->body = std::move(body);
  return p;
}

bool seeded(test::TestSchema& db) {
  return count(db, "folders", "true") == 1 && count(db, "pages", "true") == 3 &&
         count(db, "pages",
               "body IN ('a1', 'a2', 'a3') AND folder_id = (SELECT id FROM folders WHERE name = "
               "'a')") == 3;
}

std::vector<UnitOfWork> units_of_work() {
  std::vector<UnitOfWork> out;
  // Inserts only: COMMIT rides with the INSERTs, whose rows are then written back.
  out.push_back({"insert a folder with two pages", false,
                 [](Session& s, const std::shared_ptr<Folder>&) {
                   auto f = std::make_shared<Folder>();
                   f->name = "b";
                   f->pages.add(new_page("b1"));
                   f->pages.add(new_page("b2"));
                   s.add(f);
                 },
                 [](test::TestSchema& db) {
                   return count(db, "folders", "name = 'b'") == 1 &&
                          count(db, "pages",
                                "body IN ('b1', 'b2') AND folder_id = (SELECT id FROM folders "
                                "WHERE name = 'b')") == 2;
                 },
                 seeded});
  // Checked writes: COMMIT goes after their results.
  out.push_back({"change two pages", true,
                 [](Session&, const std::shared_ptr<Folder>& f) {
                   page(f, "a1")->body = "a1 changed";
                   page(f, "a2")->body = "a2 changed";
                 },
                 [](test::TestSchema& db) {
                   return count(db, "pages", "body IN ('a1 changed', 'a2 changed')") == 2;
                 },
                 seeded});
  out.push_back({"delete a page", true,
                 [](Session& s, const std::shared_ptr<Folder>& f) { s.remove(page(f, "a2")); },
                 [](test::TestSchema& db) {
                   return count(db, "pages", "body = 'a2'") == 0 && count(db, "pages", "true") == 2;
                 },
                 seeded});
  out.push_back(
      {"orphan a page, add one and insert a folder", true,
       [](Session& s, const std::shared_ptr<Folder>& f) {
         f->pages.remove(page(f, "a1"));  // delete-orphan
         f->pages.add(new_page("a4"));
         auto g = std::make_shared<Folder>();
         g->name = "c";
         s.add(g);
       },
       [](test::TestSchema& db) {
         return count(db, "pages", "body = 'a1'") == 0 &&
                count(db, "pages",
                      "body = 'a4' AND folder_id = (SELECT id FROM folders WHERE name = 'a')") ==
                    1 &&
                count(db, "folders", "name = 'c'") == 1;
       },
       seeded});
  return out;
}

// Waits (at most 5 s) until no other connection of the database is inside a statement or a
// transaction: a discarded connection's server process may still be finishing its work.
void settle(test::TestSchema& db) {
  for (int i = 0; i < 500; ++i) {
    if (db.scalar<std::int64_t>("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                "current_database() AND pid <> pg_backend_pid() AND backend_type "
                                "= 'client backend' AND state <> 'idle'") == 0)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL("a connection of the test database stayed busy for 5 s");
}

// A fresh seed, then the unit's change made in `s` (loading folder 'a' with its pages first when
// it needs them).
void start(test::TestSchema& db, Session& s, const UnitOfWork& unit) {
  seed(db);
  std::shared_ptr<Folder> folder;
  if (unit.loads) {
    auto folders = s.execute(with_pages);
    REQUIRE(folders.size() == 1);
    folder = folders[0];
  }
  unit.change(s, folder);
}

enum class Reported { committed, committed_then_failed, in_doubt, failed };

// What `call` (a commit or flush) reported when run with the allocation numbered `allocation`
// failing; `error` gets its exception's message.
template <class Call>
Reported call_with_failure_at(long allocation, Call&& call, std::string& error) {
  failure_injected = false;
  allocations_before_failure = allocation;
  Reported reported = Reported::committed;
  try {
    call();
  } catch (const TransactionInDoubt& e) {
    allocations_before_failure = -1;
    error = e.what();
    reported = Reported::in_doubt;
  } catch (const InterfaceError& e) {
    allocations_before_failure = -1;
    error = e.what();
    reported = error.find("the transaction was committed") != std::string::npos
                   ? Reported::committed_then_failed
                   : Reported::failed;
  } catch (const std::exception& e) {
    allocations_before_failure = -1;
    error = e.what();
    reported = Reported::failed;
  }
  allocations_before_failure = -1;
  return reported;
}

// The server holds what `reported` says.
void check_outcome(const UnitOfWork& unit, test::TestSchema& db, Reported reported) {
  switch (reported) {
    case Reported::committed:
    case Reported::committed_then_failed:
      CHECK(unit.written(db));
      break;
    case Reported::in_doubt:
      // The answer to COMMIT was lost in the client and the connection discarded: once the
      // server is done with it, all of it or nothing was committed.
      settle(db);
      CHECK((unit.written(db) || unit.untouched(db)));
      break;
    case Reported::failed:
      CHECK(unit.untouched(db));
      break;
  }
}

// Far more than one commit of these units of work allocates: each loop below ends when a commit
// ran through without reaching its injected failure.
constexpr long kMostAllocations = 5000;

}  // namespace

TEST_CASE("an allocation failure anywhere in commit() is reported as what the server did",
          "[session][failure]") {
  test::TestSchema db;
  Metadata::of<Folder, Page>().create_all(db.conn());
  Engine engine(db.conninfo());
  for (const auto& unit : units_of_work()) {
    DYNAMIC_SECTION(unit.name) {
      bool finished = false;
      std::map<Reported, int> seen;
      for (long n = 0; n < kMostAllocations && !finished; ++n) {
        Session s(engine);
        start(db, s, unit);
        std::string error;
        Reported reported = call_with_failure_at(
            n, [&] { s.commit(); }, error);
        finished = !failure_injected;
        ++seen[reported];
        INFO("allocation " << n << " failed; commit() threw: " << error);
        check_outcome(unit, db, reported);
        if (finished) CHECK(reported == Reported::committed);
        // The session and the pool go on.
        CHECK(s.execute(select<Folder>()).size() >= 1);
      }
      CHECK(finished);
      // Failures before COMMIT were met, and (for the inserts) after it.
      CHECK(seen[Reported::failed] > 0);
      if (!unit.loads) CHECK(seen[Reported::committed_then_failed] > 0);
      // A connection given up after a client failure is not a server restart: the pool keeps
      // its other connections.
      CHECK(engine.pool().stats().pool_invalidations == 0);
    }
  }
}

TEST_CASE("an allocation failure anywhere in a savepoint's commit() undoes the savepoint's work",
          "[session][failure]") {
  // The enclosing transaction wrote folder 'x'; the savepoint adds folder 'y' with a page. When
  // Savepoint::commit() throws, nothing of 'y' may reach the server: either the transaction goes
  // on without it ('x' is committed by the outer commit), or the whole transaction was rolled
  // back (TransactionRolledBack).
  test::TestSchema db;
  Metadata::of<Folder, Page>().create_all(db.conn());
  Engine engine(db.conninfo());
  auto folders_named = [&](std::string_view name) {
    return count(db, "folders", fmt::format("name = '{}'", name));
  };
  bool finished = false;
  std::map<std::string, int> seen;
  for (long n = 0; n < kMostAllocations && !finished; ++n) {
    seed(db);
    Session s(engine);
    auto x = std::make_shared<Folder>();
    x->name = "x";
    s.add(x);
    s.flush();
    std::string error;
    bool whole_rolled_back = false;
    failure_injected = false;
    {
      auto sp = s.begin_nested();
      auto y = std::make_shared<Folder>();
      y->name = "y";
      y->pages.add(new_page("y1"));
      s.add(y);
      allocations_before_failure = n;
      try {
        sp.commit();
      } catch (const TransactionRolledBack& e) {
        error = e.what();
        whole_rolled_back = true;
      } catch (const std::exception& e) {
        error = e.what();
      }
      allocations_before_failure = -1;
    }  // a savepoint left open rolls back to itself here
    finished = !failure_injected;
    const bool nested_failed = failure_injected;
    ++seen[!nested_failed ? "committed" : whole_rolled_back ? "rolled back" : "undone"];
    INFO("allocation " << n << " failed; Savepoint::commit() threw: " << error);
    std::string outer_error;
    try {
      s.commit();
    } catch (const std::exception& e) {
      outer_error = e.what();
    }
    INFO("then commit() threw: " << outer_error);
    if (!nested_failed) {
      CHECK(error.empty());
      CHECK(outer_error.empty());
      CHECK(folders_named("x") == 1);
      CHECK(folders_named("y") == 1);
      CHECK(count(db, "pages", "body = 'y1'") == 1);
    } else {
      CHECK_FALSE(error.empty());
      CHECK(folders_named("y") == 0);
      CHECK(count(db, "pages", "body = 'y1'") == 0);
      // The enclosing work is committed unless the whole transaction was rolled back.
      CHECK(folders_named("x") == (whole_rolled_back ? 0 : 1));
    }
    CHECK(s.execute(select<Folder>()).size() >= 1);
  }
  CHECK(finished);
  CHECK(seen["undone"] > 0);
}

TEST_CASE("an allocation failure anywhere in flush() leaves nothing of the transaction",
          "[session][failure]") {
  // A flush that throws (no savepoint open) rolls the whole transaction back: the commit() after
  // it writes nothing of the unit of work. One that returns leaves it all for commit().
  test::TestSchema db;
  Metadata::of<Folder, Page>().create_all(db.conn());
  Engine engine(db.conninfo());
  for (const auto& unit : units_of_work()) {
    DYNAMIC_SECTION(unit.name) {
      bool finished = false;
      int failed = 0;
      for (long n = 0; n < kMostAllocations && !finished; ++n) {
        Session s(engine);
        start(db, s, unit);
        std::string error;
        call_with_failure_at(
            n, [&] { s.flush(); }, error);
        finished = !failure_injected;
        INFO("allocation " << n << " failed; flush() threw: " << error);
        CHECK(error.empty() == !failure_injected);
        if (failure_injected) CHECK_FALSE(s.in_transaction());
        std::string commit_error;
        try {
          s.commit();
        } catch (const std::exception& e) {
          commit_error = e.what();
        }
        INFO("then commit() threw: " << commit_error);
        CHECK(commit_error.empty());
        if (failure_injected) {
          ++failed;
          CHECK(unit.untouched(db));
        } else {
          CHECK(unit.written(db));
        }
      }
      CHECK(finished);
      CHECK(failed > 0);
    }
  }
}
