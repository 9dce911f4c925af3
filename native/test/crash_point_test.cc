// Crash points: the SLUICE_CRASH_POINT syntax (a name, optionally ":K" for the K-th pass), every
// point's name round-tripping, refusal of unknown names and bad pass counts, and an unarmed point
// passing harmlessly (this test runs without SLUICE_CRASH_POINT; firing is exercised by the
// torture run, whose children arm the points: test/torture/).
#include "sluice/crash_point.h"

#include <string>

#include "test.h"

using sluice::CrashPoint;
using sluice::crash_point_name;
using sluice::parse_crash_point;

TEST(every_point_parses_back_from_its_name) {
  for (int i = 1; i < static_cast<int>(CrashPoint::kCount); i++) {
    const auto p = static_cast<CrashPoint>(i);
    const auto spec = parse_crash_point(crash_point_name(p));
    CHECK(spec.point == p);
    CHECK_EQ(spec.pass, 1u);
    const auto third = parse_crash_point((std::string(crash_point_name(p)) + ":3").c_str());
    CHECK(third.point == p);
    CHECK_EQ(third.pass, 3u);
  }
}

TEST(unknown_names_and_bad_passes_arm_nothing) {
  for (const char* bad : {"", "log.mid", "log.mid-roll:", "log.mid-roll:0", "log.mid-roll:x",
                          "log.mid-roll:2x", "log.mid-roll:99999999999", "txn.after-markers",
                          ":2"}) {
    CHECK(parse_crash_point(bad).point == CrashPoint::kNone);
  }
  CHECK(parse_crash_point(nullptr).point == CrashPoint::kNone);
  CHECK_EQ(std::string(crash_point_name(CrashPoint::kNone)), std::string(""));
}

TEST(an_unarmed_point_passes) {
  for (int i = 0; i < 1000; i++) sluice::crash_point(CrashPoint::kLogMidRoll);
  CHECK(true);
}

TEST_MAIN()
