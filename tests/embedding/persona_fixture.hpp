#pragma once
// A persona made in memory from its facts, as io::read_personas makes one from a
// {"id", "facts": [...]} line (text = the facts joined by single spaces).
#include <string>
#include <utility>
#include <vector>

#include <popalign/io/persona_record.hpp>

namespace popalign::embedding::fixture {

inline io::PersonaRecord persona(std::string id, std::vector<std::string> facts) {
  io::PersonaRecord p;
  p.id = std::move(id);
  p.facts = std::move(facts);
  p.text = p.facts_text();
  return p;
}

}  // namespace popalign::embedding::fixture
