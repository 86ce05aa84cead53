#include <catch2/catch.hpp>

#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pgorm/model/kept_text.hpp"
#include "support/models.hpp"

using namespace pgorm;
using pgorm::detail::KeptText;

namespace {

// A text of `size` bytes that differs from its neighbours' (NUL bytes included).
std::string text_of(std::size_t size, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(random() % 256);
  return out;
}

// Keeps a text in its destructor, at the end of a thread, after the thread's filling block was
// released (it is constructed before that block's keeper, so destroyed after it).
struct KeepsAtThreadEnd {
  KeptText kept;
  bool* done = nullptr;
  ~KeepsAtThreadEnd() {
    kept.assign(std::string("kept while the thread ends"));
    if (done) *done = kept.equals(std::string("kept while the thread ends"));
  }
};

}  // namespace

TEST_CASE("a kept text tells the empty string, NULL and a value apart", "[unit][session]") {
  KeptText kept;
  CHECK(kept.equals(std::string()));
  CHECK_FALSE(kept.null());
  CHECK_FALSE(kept.equals(std::optional<std::string>()));
  CHECK(kept.equals(std::optional<std::string>("")));

  kept.assign(std::optional<std::string>());
  CHECK(kept.null());
  CHECK(kept.equals(std::optional<std::string>()));
  CHECK_FALSE(kept.equals(std::string()));
  CHECK_FALSE(kept.equals(std::optional<std::string>("")));
  CHECK(kept.as<std::optional<std::string>>() == std::nullopt);

  kept.assign(std::string("milk"));
  CHECK(kept.equals(std::string("milk")));
  CHECK(kept.equals(std::optional<std::string>("milk")));
  CHECK_FALSE(kept.equals(std::string("milk ")));
  CHECK_FALSE(kept.equals(std::string("mil")));
  CHECK_FALSE(kept.equals(std::optional<std::string>()));
  CHECK(kept.as<std::string>() == "milk");
  CHECK(kept.as<std::optional<std::string>>() == std::optional<std::string>("milk"));

  kept.assign(std::string());
  CHECK_FALSE(kept.null());
  CHECK(kept.equals(std::string()));
  CHECK(kept.as<std::optional<std::string>>() == std::optional<std::string>(""));
}

TEST_CASE("kept texts keep their bytes while others are kept, copied and dropped",
          "[unit][session]") {
  // Short texts share blocks, long ones get their own; sizes cross both limits and NUL bytes are
  // part of the values.
  std::mt19937 random(7);
  std::vector<std::string> texts;
  std::vector<KeptText> kept;
  for (std::uint32_t i = 0; i < 3000; ++i) {
    const std::size_t size = i % 50 == 0 ? 600 + random() % 5000 : random() % 700;
    texts.push_back(text_of(size, i));
    kept.emplace_back();
    kept.back().assign(texts.back());
  }
  // Copies outlive their originals; reassigning one does not touch the others.
  std::vector<KeptText> copies(kept.begin(), kept.end());
  for (std::size_t i = 0; i < kept.size(); i += 2) kept[i] = KeptText();
  for (std::size_t i = 1; i < kept.size(); i += 3) kept[i].assign(std::string("changed"));
  kept.clear();
  for (std::size_t i = 0; i < texts.size(); ++i) {
    INFO("text " << i << " of " << texts[i].size() << " bytes");
    REQUIRE(copies[i].equals(texts[i]));
    REQUIRE(copies[i].view() == texts[i]);
  }
  // One byte changed, anywhere, is a change.
  for (std::size_t i = 0; i < texts.size(); i += 97) {
    if (texts[i].empty()) continue;
    std::string changed = texts[i];
    changed[changed.size() / 2] = static_cast<char>(changed[changed.size() / 2] ^ 1);
    CHECK_FALSE(copies[i].equals(changed));
  }
}

TEST_CASE("column values keep text columns and give them back as the member's type",
          "[unit][session]") {
  testmodels::Todo todo;
  todo.id = 3;
  todo.title = std::string(2000, 'x');
  todo.description = std::nullopt;
  ColumnValues<testmodels::Todo> kept(todo);
  CHECK(kept.equals(todo));
  using Title = column_of_t<testmodels::Todo, &testmodels::Todo::title>;
  using Description = column_of_t<testmodels::Todo, &testmodels::Todo::description>;
  CHECK(kept.get<Title>() == todo.title);
  CHECK(kept.get<Description>() == std::nullopt);

  testmodels::Todo changed = todo;
  changed.description = "";
  CHECK_FALSE(kept.equals(changed));
  CHECK_FALSE(kept.same<Description>(changed));
  CHECK(kept.same<Title>(changed));
  changed.title.back() = 'y';
  CHECK_FALSE(kept.same<Title>(changed));

  kept.restore(changed);
  CHECK(changed.title == todo.title);
  CHECK(changed.description == std::nullopt);
  CHECK(kept.equals(changed));
}

TEST_CASE("kept texts made on one thread are read and dropped on others", "[concurrency]") {
  // A session may be handed to another thread: the blocks' reference counts are atomic, and the
  // thread that made them goes on filling its block meanwhile.
  constexpr int kRounds = 20;
  constexpr int kTexts = 2000;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<KeptText> batch(kTexts);
    for (int i = 0; i < kTexts; ++i)
      batch[static_cast<std::size_t>(i)].assign("text " + std::to_string(round * kTexts + i));
    bool all_read = true;  // Catch2's assertions are for the test's own thread
    std::thread reader([moved = std::move(batch), round, &all_read]() mutable {
      for (int i = 0; i < kTexts; ++i)
        if (moved[static_cast<std::size_t>(i)].view() !=
            "text " + std::to_string(round * kTexts + i))
          all_read = false;
      moved.clear();
    });
    std::vector<KeptText> more(kTexts);
    for (int i = 0; i < kTexts; ++i) more[static_cast<std::size_t>(i)].assign(std::string("x", 1));
    reader.join();
    REQUIRE(all_read);
    for (const auto& k : more) REQUIRE(k.view() == "x");
  }
}

TEST_CASE("a text kept while its thread ends is kept, and freed with its value",
          "[unit][session]") {
  // Run under LeakSanitizer (the ASan build), a block made for it and never freed fails the run.
  bool done = false;
  std::thread thread([&done] {
    thread_local KeepsAtThreadEnd late;
    late.done = &done;
    KeptText first;
    first.assign(std::string("the thread's first kept text"));
  });
  thread.join();
  CHECK(done);
}
