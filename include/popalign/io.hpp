#pragma once
#include <popalign/io/csv.hpp>
#include <popalign/io/data_dir.hpp>
#include <popalign/io/json.hpp>
#include <popalign/io/jsonl.hpp>
#include <popalign/io/npy.hpp>
#include <popalign/io/output.hpp>
