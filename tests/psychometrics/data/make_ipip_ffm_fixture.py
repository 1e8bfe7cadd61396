#!/usr/bin/python3
"""Writes ipip_ffm_sample.tsv: 5 made-up respondents in the layout of the OSPP IPIP-FFM file
(data-final.csv: tab-separated, EXT1..OPN10, per-item times *_E, screen size, IPC, country,
coordinates). Answers are synthetic, chosen so that scores are easy to compute by hand:
  r1 all 3            -> every trait 3
  r2 all 5            -> trait = (5 * #positively keyed + 1 * #reverse keyed) / 10
  r3 all 4, EXT1 = 0  -> 0 = missed; E from 9 items
  r4 all 2, OPN10 NULL-> missing
  r5 all 1, country NONE (unknown)
"""
groups = ["EXT", "EST", "AGR", "CSN", "OPN"]
items = [f"{g}{k}" for g in groups for k in range(1, 11)]
header = items + [f"{i}_E" for i in items] + ["dateload", "screenw", "screenh", "introelapse",
                                              "testelapse", "endelapse", "IPC", "country",
                                              "lat_appx_lots_of_err", "long_appx_lots_of_err"]
rows = []
for r, (val, country) in enumerate([(3, "US"), (5, "GB"), (4, "JP"), (2, "DE"), (1, "NONE")]):
    ans = [str(val)] * 50
    if r == 2:
        ans[0] = "0"
    if r == 3:
        ans[49] = "NULL"
    times = [str(1000 + 10 * k) for k in range(50)]
    rows.append(ans + times + ["2016-03-03 02:01:01", "768", "1024", "9", "234", "6", "1",
                               country, "51.5448", "0.1991"])
with open("ipip_ffm_sample.tsv", "w", newline="") as f:
    f.write("\t".join(header) + "\n")
    for row in rows:
        f.write("\t".join(row) + "\n")
