// JSONB, array and full-text operators: the SQL they render and the rows the server matches.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "support/db.hpp"

using namespace pgorm;

namespace opstest {

struct Doc : Model<Doc> {
  std::string title;
  std::optional<std::string> body;
  Json data;
  std::vector<std::string> tags;
  std::vector<std::int32_t> scores;
  static constexpr auto columns =
      pgorm::columns(column<&Doc::title>(), column<&Doc::body>(), column<&Doc::data>(),
                     column<&Doc::tags>(), column<&Doc::scores>());
};

// Three documents; the third has no body and empty arrays.
struct Docs {
  test::TestSchema db;
  Engine engine;
  Docs() : engine(make()) {}
  Engine make() {
    Metadata::of<Doc>().create_all(db.conn());
    db.conn().execute_script(R"sql(
      INSERT INTO docs (title, body, data, tags, scores) VALUES
        ('pg', 'PostgreSQL indexes make searching fast',
         '{"kind": "guide", "user": {"name": "ann"}, "langs": ["sql", "c++"]}',
         '{db,sql}', '{3,5}'),
        ('cpp', 'Templates and concepts in modern C++ code',
         '{"kind": "note", "user": {"name": "bob"}, "draft": true}', '{c++,code}', '{1}'),
        ('empty', NULL, '{"kind": "note"}', '{}', '{}');
    )sql");
    return Engine(db.conninfo());
  }
  Session session() { return Session(engine); }
};

}  // namespace opstest

using opstest::Doc;
using opstest::Docs;

namespace {
using Strings = std::vector<std::string>;
template <class Q>
Strings titles(Session& s, const Q& q) {
  Strings out;
  for (const auto& d : s.execute(q.order_by(col<&Doc::title>))) out.push_back(d->title);
  return out;
}
}  // namespace

TEST_CASE("JSONB operators render with bound keys, paths and documents", "[unit][query]") {
  auto q = select(jsonb_get(col<&Doc::data>, "user"), jsonb_get_text(col<&Doc::data>, "kind"),
                  jsonb_path_text(col<&Doc::data>, {"user", "name"}),
                  jsonb_get_text(jsonb_get(col<&Doc::data>, "langs"), 0));
  CHECK(q.statement().sql ==
        "SELECT (\"docs\".\"data\" -> $1::text), (\"docs\".\"data\" ->> $2::text), "
        "(\"docs\".\"data\" #>> $3::text[]), ((\"docs\".\"data\" -> $4::text) ->> $5::integer) "
        "FROM \"docs\"");
  STATIC_REQUIRE(
      std::is_same_v<decltype(q)::row_type,
                     std::tuple<std::optional<Json>, std::optional<std::string>,
                                std::optional<std::string>, std::optional<std::string>>>);
  auto w = select<Doc>().where(jsonb_contains(col<&Doc::data>, Json{R"({"kind": "note"})"}) &&
                               jsonb_has_key(col<&Doc::data>, "draft") &&
                               jsonb_has_any_key(col<&Doc::data>, {"a", "b"}) &&
                               jsonb_has_all_keys(col<&Doc::data>, {"c"}) &&
                               jsonb_contained_in(col<&Doc::data>, Json{"{}"}) &&
                               jsonb_path_exists(col<&Doc::data>, "$.langs[*]"));
  CHECK(w.statement().sql.find("((((((\"docs\".\"data\" @> $1::jsonb) AND (\"docs\".\"data\" ? "
                               "$2::text)) AND (\"docs\".\"data\" ?| $3::text[])) AND "
                               "(\"docs\".\"data\" ?& $4::text[])) AND (\"docs\".\"data\" <@ "
                               "$5::jsonb)) AND jsonb_path_exists(\"docs\".\"data\", "
                               "$6::jsonpath))") != std::string::npos);
}

TEST_CASE("JSONB operators read members and match documents on the server", "[query]") {
  Docs fx;
  auto s = fx.session();
  CHECK(s.values(select(jsonb_get_text(col<&Doc::data>, "kind")).order_by(col<&Doc::title>)) ==
        std::vector<std::optional<std::string>>{"note", "note", "guide"});
  CHECK(
      s.values(
          select(jsonb_path_text(col<&Doc::data>, {"user", "name"})).order_by(col<&Doc::title>)) ==
      std::vector<std::optional<std::string>>{"bob", std::nullopt, "ann"});
  CHECK(s.values(select(jsonb_get_text(jsonb_get(col<&Doc::data>, "langs"), 1))
                     .order_by(col<&Doc::title>)) ==
        std::vector<std::optional<std::string>>{std::nullopt, std::nullopt, "c++"});
  auto user = s.scalar(select(jsonb_get(col<&Doc::data>, "user")).where(col<&Doc::title> == "pg"));
  REQUIRE(user.has_value());
  CHECK(user->text == R"({"name": "ann"})");
  CHECK(titles(s, select<Doc>().where(jsonb_contains(
                      col<&Doc::data>, Json{R"({"kind": "note"})"}))) == Strings{"cpp", "empty"});
  CHECK(titles(s, select<Doc>().where(jsonb_contained_in(
                      col<&Doc::data>, Json{R"({"kind": "note", "other": 1})"}))) ==
        Strings{"empty"});
  CHECK(titles(s, select<Doc>().where(jsonb_has_key(col<&Doc::data>, "draft"))) == Strings{"cpp"});
  CHECK(titles(s, select<Doc>().where(jsonb_has_any_key(col<&Doc::data>, {"draft", "langs"}))) ==
        Strings{"cpp", "pg"});
  CHECK(titles(s, select<Doc>().where(jsonb_has_all_keys(col<&Doc::data>, {"kind", "user"}))) ==
        Strings{"cpp", "pg"});
  CHECK(titles(s, select<Doc>().where(jsonb_path_exists(
                      col<&Doc::data>, R"($.langs[*] ? (@ == "c++"))"))) == Strings{"pg"});
  // A key that looks like SQL is only a value.
  CHECK(s.count(select<Doc>().where(jsonb_has_key(col<&Doc::data>, "x'); DROP TABLE docs; --"))) ==
        0);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM docs") == 3);
}

TEST_CASE("array operators render with one array parameter", "[unit][query]") {
  auto q = select<Doc>().where(array_contains(col<&Doc::tags>, std::vector<std::string>{"sql"}) &&
                               array_overlaps(col<&Doc::scores>, std::vector<std::int32_t>{1, 2}) &&
                               equals_any("db", col<&Doc::tags>));
  CHECK(q.statement().sql.find("(((\"docs\".\"tags\" @> $1::text[]) AND (\"docs\".\"scores\" && "
                               "$2::integer[])) AND ($3::text = ANY(\"docs\".\"tags\")))") !=
        std::string::npos);
  CHECK(select(array_length(col<&Doc::tags>)).statement().sql ==
        "SELECT array_length(\"docs\".\"tags\", 1) FROM \"docs\"");
}

TEST_CASE("array operators match elements on the server", "[query]") {
  Docs fx;
  auto s = fx.session();
  CHECK(titles(s, select<Doc>().where(array_contains(
                      col<&Doc::tags>, std::vector<std::string>{"sql", "db"}))) == Strings{"pg"});
  CHECK(
      titles(s, select<Doc>().where(array_contains(col<&Doc::tags>, std::vector<std::string>{}))) ==
      Strings{"cpp", "empty", "pg"});
  CHECK(titles(s, select<Doc>().where(
                      array_overlaps(col<&Doc::scores>, std::vector<std::int32_t>{1, 5}))) ==
        Strings{"cpp", "pg"});
  CHECK(titles(s, select<Doc>().where(equals_any("c++", col<&Doc::tags>))) == Strings{"cpp"});
  CHECK(titles(s, select<Doc>().where(equals_any(col<&Doc::title>, col<&Doc::tags>))) == Strings{});
  CHECK(s.values(select(array_length(col<&Doc::scores>)).order_by(col<&Doc::title>)) ==
        std::vector<std::optional<std::int32_t>>{1, std::nullopt, 2});
  CHECK(s.values(select(coalesce(array_length(col<&Doc::tags>), 0)).order_by(col<&Doc::title>)) ==
        std::vector<std::int32_t>{2, 0, 2});
}

TEST_CASE("full-text search renders the configuration and query as parameters", "[unit][query]") {
  auto doc = to_tsvector("english", col<&Doc::body>);
  auto q = select(col<&Doc::title>, ts_rank(doc, websearch_to_tsquery("english", "fast search")))
               .where(matches(doc, websearch_to_tsquery("english", "fast search")));
  CHECK(q.statement().sql ==
        "SELECT \"docs\".\"title\", ts_rank(to_tsvector($1::regconfig, \"docs\".\"body\"), "
        "websearch_to_tsquery($2::regconfig, $3::text)) FROM \"docs\" WHERE "
        "(to_tsvector($4::regconfig, \"docs\".\"body\") @@ websearch_to_tsquery($5::regconfig, "
        "$6::text))");
  STATIC_REQUIRE(
      std::is_same_v<decltype(q)::row_type, std::tuple<std::string, std::optional<float>>>);
}

TEST_CASE("full-text search finds and ranks documents on the server", "[query]") {
  Docs fx;
  auto s = fx.session();
  auto doc = to_tsvector("english", col<&Doc::body>);
  CHECK(titles(s, select<Doc>().where(matches(doc, websearch_to_tsquery("english", "searches")))) ==
        Strings{"pg"});
  CHECK(titles(s, select<Doc>().where(
                      matches(doc, websearch_to_tsquery("english", "template or index")))) ==
        Strings{"cpp", "pg"});
  CHECK(titles(s, select<Doc>().where(matches(
                      doc, websearch_to_tsquery("english", "code -templates")))) == Strings{});
  CHECK(titles(s, select<Doc>().where(matches(doc, plainto_tsquery("english", "modern code")))) ==
        Strings{"cpp"});
  CHECK(titles(s, select<Doc>().where(matches(doc, to_tsquery("english", "index:* & fast")))) ==
        Strings{"pg"});
  auto ranked =
      s.values(select(col<&Doc::title>, ts_rank(doc, plainto_tsquery("english", "postgresql")))
                   .order_by(col<&Doc::title>));
  REQUIRE(ranked.size() == 3);
  CHECK(std::get<1>(ranked[0]) == std::optional<float>(0.0f));  // cpp: no match
  CHECK_FALSE(std::get<1>(ranked[1]).has_value());              // empty: NULL body
  REQUIRE(std::get<1>(ranked[2]).has_value());
  CHECK(*std::get<1>(ranked[2]) > 0.0f);
}
