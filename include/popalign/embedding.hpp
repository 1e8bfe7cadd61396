#pragma once
// popalign::embedding — embedders, nearest-neighbour indexes, contrastive projection heads and
// persona retrieval. Link popalign::embedding (compiled layer).
#include <popalign/embedding/contrastive.hpp>
#include <popalign/embedding/embedder.hpp>
#include <popalign/embedding/evaluation.hpp>
#include <popalign/embedding/index.hpp>
#include <popalign/embedding/late_interaction.hpp>
#include <popalign/embedding/projection_head.hpp>
#include <popalign/embedding/retrieval.hpp>
#include <popalign/embedding/word_vectors.hpp>
#if defined(POPALIGN_HAS_OPENAI_EMBEDDER)
#include <popalign/embedding/description_queries.hpp>
#include <popalign/embedding/openai_embedder.hpp>
#endif
