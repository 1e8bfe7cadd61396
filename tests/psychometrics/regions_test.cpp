#include <popalign/psychometrics/regions.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <popalign/psychometrics/reference.hpp>

namespace popalign::psychometrics {
namespace {

using ::testing::HasSubstr;

const std::filesystem::path kData = POPALIGN_DATA_DIR;

RegionMap shipped() { return RegionMap::load(kData / "regions" / "iso2_regions.csv"); }

TEST(RegionMap, LooksUpCodes) {
  const RegionMap m = shipped();
  EXPECT_EQ(m.size(), 237u);
  EXPECT_EQ(m.region_of("CN"), "East Asia");
  EXPECT_EQ(m.region_of("tw"), "East Asia");  // case-insensitive
  EXPECT_EQ(m.region_of(" US "), "North America");
  EXPECT_EQ(m.region_of("A1"), "Unknown");
  EXPECT_EQ(m.region_of(""), "Unknown");
  EXPECT_EQ(m.region_of("(nu"), "Unknown");
  EXPECT_EQ(m.region_of("ZZ"), "Unknown");  // not in the map
  EXPECT_EQ(m.regions().size(), 11u);
  EXPECT_TRUE(m.has_region("Europe"));
  EXPECT_FALSE(m.has_region("Atlantis"));
  EXPECT_THAT(m.countries_in("North America"), ::testing::IsSupersetOf({"US", "CA"}));
  EXPECT_THROW(m.countries_in("Atlantis"), InvalidArgument);
  const RegionMap m49 = RegionMap::load(kData / "regions" / "iso2_regions.csv", "m49_region");
  EXPECT_EQ(m49.region_of("JP"), "Asia");
}

TEST(RegionMap, Big5CountsPerRegion) {
  // Expected values: the shared data README ("Quick facts for tests").
  const ReferenceData d = load_big5(kData / "big5" / "data.csv");
  const auto counts = count_by_region(d.country, shipped());
  const std::map<std::string, std::size_t> expected{{"North America", 9685},
                                                    {"Europe", 3952},
                                                    {"South Asia", 1792},
                                                    {"Southeast Asia", 1286},
                                                    {"Oceania", 1140},
                                                    {"Latin America & Caribbean", 506},
                                                    {"Middle East & North Africa", 419},
                                                    {"Sub-Saharan Africa", 330},
                                                    {"East Asia", 176},
                                                    {"Unknown", 430}};
  for (const auto& [region, n] : expected) EXPECT_EQ(counts.at(region), n) << region;
  std::size_t total = 0;
  for (const auto& [r, n] : counts) total += n;
  EXPECT_EQ(total, 19719u);

  const auto east_asia = select_group(d.country, shipped(), GroupFilter{.regions = {"East Asia"}});
  EXPECT_EQ(east_asia.size(), 176u);
  std::map<std::string, std::size_t> per_country;
  for (Index i : east_asia) ++per_country[d.country[static_cast<std::size_t>(i)]];
  EXPECT_EQ(per_country,
            (std::map<std::string, std::size_t>{
                {"CN", 40}, {"HK", 41}, {"JP", 37}, {"KR", 30}, {"TW", 26}, {"MN", 2}}));
  const auto sub = d.select_rows(east_asia);
  EXPECT_EQ(sub.rows(), 176);
}

TEST(GroupFilter, CountriesRegionsAndParsing) {
  const RegionMap m = shipped();
  const std::vector<std::string> countries{"US", "jp", "DE", "", "CN", "CA"};
  EXPECT_EQ(select_group(countries, m, GroupFilter{.countries = {"JP", "ca"}}),
            (std::vector<Index>{1, 5}));
  EXPECT_EQ(select_group(countries, m, GroupFilter{.regions = {"Europe"}, .countries = {"US"}}),
            (std::vector<Index>{0, 2}));
  EXPECT_EQ(select_group(countries, m, GroupFilter{}).size(), 6u);
  EXPECT_EQ(select_group(countries, m, GroupFilter{.regions = {"Unknown"}}),
            (std::vector<Index>{3}));
  try {
    select_group(countries, m, GroupFilter{.regions = {"Asia"}});
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "regions");
    EXPECT_THAT(e.what(), HasSubstr("East Asia"));
  }
  GroupFilter f = GroupFilter::parse("region:East Asia;Europe");
  EXPECT_EQ(f.regions, (std::vector<std::string>{"East Asia", "Europe"}));
  f = GroupFilter::parse("country: US, CA");
  EXPECT_EQ(f.countries, (std::vector<std::string>{"US", "CA"}));
  f = GroupFilter::parse("Latin America & Caribbean");
  EXPECT_EQ(f.regions, (std::vector<std::string>{"Latin America & Caribbean"}));
  EXPECT_THROW(GroupFilter::parse("region:"), InvalidArgument);
  EXPECT_EQ(region_labels({"US", "XX"}, m), (std::vector<std::string>{"North America", "Unknown"}));
}

}  // namespace
}  // namespace popalign::psychometrics
