#include <algorithm>
#include <cmath>
#include <numeric>

#include <popalign/core/random.hpp>
#include <popalign/embedding/contrastive.hpp>
#include <popalign/embedding/index.hpp>

#include "serial_eigen.hpp"

namespace popalign::embedding {

void ContrastiveOptions::validate() const {
  check_argument(hidden >= 0, "hidden", "must be >= 0 (0 = input dimension)");
  check_argument(epochs >= 1, "epochs", "must be >= 1");
  check_argument(batch_size >= 2, "batch_size", "must be >= 2");
  check_argument(learning_rate > 0 && std::isfinite(learning_rate), "learning_rate", "must be > 0");
  check_argument(weight_decay >= 0 && std::isfinite(weight_decay), "weight_decay", "must be >= 0");
  check_argument(beta1 >= 0 && beta1 < 1, "beta1", "must be in [0, 1)");
  check_argument(beta2 >= 0 && beta2 < 1, "beta2", "must be in [0, 1)");
  check_argument(epsilon > 0, "epsilon", "must be > 0");
  check_argument(temperature > 0 && std::isfinite(temperature), "temperature", "must be > 0");
  check_argument(hard_negatives >= 0, "hard_negatives", "must be >= 0");
  check_argument(mining_candidates >= hard_negatives + 1, "mining_candidates",
                 "must be >= hard_negatives + 1");
  check_argument(filter_threshold > -1 && filter_threshold <= 1, "filter_threshold",
                 "must be in (-1, 1]");
  execution.validate();
}

std::vector<std::vector<Index>> mine_hard_negatives(MatrixView<float> queries,
                                                    MatrixView<float> positives, Index count,
                                                    Index candidates, bool filter,
                                                    double filter_threshold, Index* dropped,
                                                    const Execution& execution) {
  return mine_hard_negatives(queries, positives, count, candidates, filter, queries, positives,
                             filter_threshold, dropped, execution);
}

std::vector<std::vector<Index>> mine_hard_negatives(
    MatrixView<float> queries, MatrixView<float> positives, Index count, Index candidates,
    bool filter, MatrixView<float> filter_queries, MatrixView<float> filter_positives,
    double filter_threshold, Index* dropped, const Execution& execution) {
  check_argument(!filter || (filter_queries.rows() == queries.rows() &&
                             filter_positives.rows() == positives.rows() &&
                             filter_queries.cols() == filter_positives.cols()),
                 "filter_queries", "must have one row per query / positive");
  check_argument(queries.rows() == positives.rows(), "positives",
                 "has " + std::to_string(positives.rows()) + " rows for " +
                     std::to_string(queries.rows()) + " queries");
  check_argument(count >= 0, "count", "must be >= 0");
  check_argument(candidates >= 1, "candidates", "must be >= 1");
  const Index n = queries.rows();
  std::vector<std::vector<Index>> out(static_cast<std::size_t>(n));
  if (dropped) *dropped = 0;
  if (count == 0 || n < 2) return out;
  const ExactIndex index(positives, ExactIndexOptions{.metric = Metric::dot});
  const Neighbors nb = index.search(queries, std::min(candidates, n), execution);
  const auto thr = static_cast<float>(filter_threshold);
  Index total_dropped = 0;
  for (Index i = 0; i < n; ++i) {
    auto& mine = out[static_cast<std::size_t>(i)];
    for (Index j = 0; j < nb.k() && static_cast<Index>(mine.size()) < count; ++j) {
      const std::int64_t c = nb.ids(i, j);
      if (c < 0 || c == i) continue;
      if (filter && (filter_queries.row(i).dot(filter_positives.row(c)) > thr ||
                     filter_positives.row(i).dot(filter_positives.row(c)) > thr)) {
        ++total_dropped;
        continue;
      }
      mine.push_back(static_cast<Index>(c));
    }
  }
  if (dropped) *dropped = total_dropped;
  return out;
}

namespace {

struct AdamParam {
  RowMatrix<float>* value;
  RowMatrix<double> m, v;
  bool decay;
};

struct AdamVec {
  Vector<float>* value;
  Vector<double> m, v;
};

}  // namespace

ContrastiveResult train_projection_head(MatrixView<float> xq, MatrixView<float> xp,
                                        const ContrastiveOptions& options) {
  const detail::SerialEigenScope serial;  // same bytes for any machine / thread count
  options.validate();
  check_argument(
      xq.rows() == xp.rows(), "positive_vectors",
      "has " + std::to_string(xp.rows()) + " rows for " + std::to_string(xq.rows()) + " queries");
  check_argument(
      xq.cols() == xp.cols(), "positive_vectors",
      "has dimension " + std::to_string(xp.cols()) + ", queries have " + std::to_string(xq.cols()));
  check_argument(xq.rows() >= 2, "query_vectors", "needs at least 2 pairs");
  check_argument(xq.allFinite() && xp.allFinite(), "query_vectors", "contain NaN or Inf");
  const Index n = xq.rows(), d = xq.cols();
  ContrastiveResult res;
  res.head = ProjectionHead::identity(d, options.kind, options.hidden, options.seed);
  ProjectionHead& head = res.head;
  const bool mlp = options.kind == HeadKind::mlp;

  std::vector<AdamParam> mats;
  std::vector<AdamVec> vecs;
  auto add_mat = [&](RowMatrix<float>& m, bool decay) {
    mats.push_back({&m, RowMatrix<double>::Zero(m.rows(), m.cols()),
                    RowMatrix<double>::Zero(m.rows(), m.cols()), decay});
  };
  auto add_vec = [&](Vector<float>& v) {
    vecs.push_back({&v, Vector<double>::Zero(v.size()), Vector<double>::Zero(v.size())});
  };
  add_mat(head.w(), true);
  add_vec(head.b());
  if (mlp) {
    add_mat(head.w1(), true);
    add_vec(head.b1());
    add_mat(head.w2(), true);
  }

  // The filter judges "same meaning" with the frozen base vectors (unit rows). Judging with the
  // head being trained feeds back: dropped negatives stop pushing embeddings apart, more
  // candidates cross the threshold, and the head collapses.
  RowMatrix<float> fq = xq, fp = xp;
  normalize_rows(fq);
  normalize_rows(fp);
  Rng rng(options.seed ^ 0x636f6e7472617374ULL);
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  const double tau = options.temperature;
  const auto thr = static_cast<float>(options.filter_threshold);
  const Index bs = options.batch_size;
  std::int64_t t = 0;

  for (Index epoch = 0; epoch < options.epochs; ++epoch) {
    if (options.execution.report("train", static_cast<double>(epoch) / options.epochs)) {
      res.status = "cancelled";
      return res;
    }
    std::vector<std::vector<Index>> negs;
    if (options.hard_negatives > 0) {
      const RowMatrix<float> zq = head.forward(xq), zp = head.forward(xp);
      Index dropped = 0;
      negs = mine_hard_negatives(zq, zp, options.hard_negatives, options.mining_candidates,
                                 options.filter_negatives, fq, fp, options.filter_threshold,
                                 &dropped, options.execution);
      res.dropped_mined += dropped;
    }
    rng.shuffle(order);
    double loss_sum = 0.0;
    Index batches = 0;
    for (Index start = 0; start < n; start += bs) {
      const Index B = std::min(bs, n - start);
      if (B < 2) continue;
      // Stack [queries; positives; hard negatives] so the head runs once per batch.
      std::vector<Index> owner;  // hard-negative row -> query in batch
      std::vector<Index> hard_rows;
      for (Index i = 0; i < B; ++i) {
        if (negs.empty()) break;
        for (Index h : negs[static_cast<std::size_t>(order[static_cast<std::size_t>(start + i)])]) {
          owner.push_back(i);
          hard_rows.push_back(h);
        }
      }
      const auto H = static_cast<Index>(hard_rows.size());
      RowMatrix<float> x(2 * B + H, d);
      for (Index i = 0; i < B; ++i) {
        const Index p = order[static_cast<std::size_t>(start + i)];
        x.row(i) = xq.row(p);
        x.row(B + i) = xp.row(p);
      }
      for (Index h = 0; h < H; ++h)
        x.row(2 * B + h) = xp.row(hard_rows[static_cast<std::size_t>(h)]);
      res.mined += H;

      // Forward.
      RowMatrix<float> y = x * head.w();
      y.rowwise() += head.b().transpose();
      RowMatrix<float> a;
      if (mlp) {
        a = x * head.w1();
        a.rowwise() += head.b1().transpose();
        a = a.cwiseMax(0.0f);
        y.noalias() += a * head.w2();
      }
      Vector<double> norms(y.rows());
      RowMatrix<double> z(y.rows(), d == 0 ? 0 : y.cols());
      for (Index r = 0; r < y.rows(); ++r) {
        norms[r] = y.row(r).cast<double>().norm();
        z.row(r) = norms[r] > 0 ? (y.row(r).cast<double>() / norms[r]).eval()
                                : Eigen::RowVectorXd::Zero(y.cols()).eval();
      }
      const auto zq = z.topRows(B);
      const auto zpb = z.middleRows(B, B);
      const Eigen::MatrixXd s = zq * zpb.transpose();  // B x B cosines
      Eigen::MatrixXd fs, pp;                          // base-vector similarities for the filter
      if (options.filter_negatives) {
        RowMatrix<float> bq(B, d), bp(B, d);
        for (Index i = 0; i < B; ++i) {
          const Index p = order[static_cast<std::size_t>(start + i)];
          bq.row(i) = fq.row(p);
          bp.row(i) = fp.row(p);
        }
        fs = (bq * bp.transpose()).cast<double>();
        pp = (bp * bp.transpose()).cast<double>();
      }
      Eigen::VectorXd sh(H);
      for (Index h = 0; h < H; ++h)
        sh[h] = zq.row(owner[static_cast<std::size_t>(h)]).dot(z.row(2 * B + h));

      // Loss and dL/dlogits (already divided by B).
      Eigen::MatrixXd g = Eigen::MatrixXd::Zero(B, B);
      Eigen::VectorXd gh = Eigen::VectorXd::Zero(H);
      std::vector<std::vector<Index>> hard_of(static_cast<std::size_t>(B));
      for (Index h = 0; h < H; ++h)
        hard_of[static_cast<std::size_t>(owner[static_cast<std::size_t>(h)])].push_back(h);
      double batch_loss = 0.0;
      std::vector<char> keep(static_cast<std::size_t>(B));
      for (Index i = 0; i < B; ++i) {
        double mx = s(i, i) / tau;
        for (Index j = 0; j < B; ++j) {
          bool k = true;
          if (j != i && options.filter_negatives && (fs(i, j) > thr || pp(i, j) > thr)) {
            k = false;
            ++res.dropped_in_batch;
          }
          keep[static_cast<std::size_t>(j)] = k;
          if (k) mx = std::max(mx, s(i, j) / tau);
        }
        for (Index h : hard_of[static_cast<std::size_t>(i)]) mx = std::max(mx, sh[h] / tau);
        double sum = 0.0;
        for (Index j = 0; j < B; ++j)
          if (keep[static_cast<std::size_t>(j)]) sum += std::exp(s(i, j) / tau - mx);
        for (Index h : hard_of[static_cast<std::size_t>(i)]) sum += std::exp(sh[h] / tau - mx);
        const double lse = mx + std::log(sum);
        batch_loss += lse - s(i, i) / tau;
        for (Index j = 0; j < B; ++j)
          if (keep[static_cast<std::size_t>(j)]) g(i, j) = std::exp(s(i, j) / tau - lse) / B;
        g(i, i) -= 1.0 / B;
        for (Index h : hard_of[static_cast<std::size_t>(i)])
          gh[h] = std::exp(sh[h] / tau - lse) / B;
      }
      if (options.symmetric) {
        // Positive j against the in-batch queries (same filter mask, transposed).
        g *= 0.5;
        gh *= 0.5;
        batch_loss *= 0.5;
        for (Index j = 0; j < B; ++j) {
          double mx = s(j, j) / tau;
          for (Index i = 0; i < B; ++i) {
            bool k = true;
            if (i != j && options.filter_negatives && (fs(i, j) > thr || pp(i, j) > thr)) k = false;
            keep[static_cast<std::size_t>(i)] = k;
            if (k) mx = std::max(mx, s(i, j) / tau);
          }
          double sum = 0.0;
          for (Index i = 0; i < B; ++i)
            if (keep[static_cast<std::size_t>(i)]) sum += std::exp(s(i, j) / tau - mx);
          const double lse = mx + std::log(sum);
          batch_loss += 0.5 * (lse - s(j, j) / tau);
          for (Index i = 0; i < B; ++i)
            if (keep[static_cast<std::size_t>(i)])
              g(i, j) += 0.5 * std::exp(s(i, j) / tau - lse) / B;
          g(j, j) -= 0.5 / B;
        }
      }
      batch_loss /= B;
      if (!std::isfinite(batch_loss)) throw NumericalError("contrastive loss is not finite");
      loss_sum += batch_loss;
      ++batches;

      // dL/dz.
      RowMatrix<double> dz = RowMatrix<double>::Zero(z.rows(), z.cols());
      dz.topRows(B) = (g * zpb) / tau;
      dz.middleRows(B, B) = (g.transpose() * zq) / tau;
      for (Index h = 0; h < H; ++h) {
        const Index i = owner[static_cast<std::size_t>(h)];
        dz.row(i) += (gh[h] / tau) * z.row(2 * B + h);
        dz.row(2 * B + h) = (gh[h] / tau) * zq.row(i);
      }
      // Through the normalisation.
      RowMatrix<float> dy(z.rows(), z.cols());
      for (Index r = 0; r < z.rows(); ++r) {
        if (norms[r] > 0) {
          const double proj = z.row(r).dot(dz.row(r));
          dy.row(r) = ((dz.row(r) - proj * z.row(r)) / norms[r]).cast<float>();
        } else {
          dy.row(r).setZero();
        }
      }
      // Through the head.
      std::vector<RowMatrix<double>> gmats;
      std::vector<Vector<double>> gvecs;
      gmats.push_back((x.transpose() * dy).cast<double>());
      gvecs.push_back(dy.colwise().sum().transpose().cast<double>());
      if (mlp) {
        RowMatrix<float> dh = dy * head.w2().transpose();
        dh = dh.cwiseProduct((a.array() > 0.0f).cast<float>().matrix());
        gmats.push_back((x.transpose() * dh).cast<double>());
        gvecs.push_back(dh.colwise().sum().transpose().cast<double>());
        gmats.push_back((a.transpose() * dy).cast<double>());
      }
      // AdamW.
      ++t;
      const double b1 = options.beta1, b2 = options.beta2;
      const double c1 = 1.0 - std::pow(b1, static_cast<double>(t));
      const double c2 = 1.0 - std::pow(b2, static_cast<double>(t));
      const double lr = options.learning_rate;
      for (std::size_t k = 0; k < mats.size(); ++k) {
        AdamParam& p = mats[k];
        const RowMatrix<double>& gr = gmats[k];
        p.m = b1 * p.m + (1 - b1) * gr;
        p.v = b2 * p.v + (1 - b2) * gr.cwiseProduct(gr);
        RowMatrix<double> val = p.value->cast<double>();
        if (p.decay && k == 0 && options.decay_to_identity) {
          // Decoupled decay toward the starting point W = I: W <- I + (W - I)(1 - lr wd).
          val.diagonal().array() -= 1.0;
          val *= (1.0 - lr * options.weight_decay);
          val.diagonal().array() += 1.0;
        } else if (p.decay) {
          val *= (1.0 - lr * options.weight_decay);
        }
        val.array() -= lr * (p.m.array() / c1) / ((p.v.array() / c2).sqrt() + options.epsilon);
        *p.value = val.cast<float>();
      }
      for (std::size_t k = 0; k < vecs.size(); ++k) {
        AdamVec& p = vecs[k];
        const Vector<double>& gr = gvecs[k];
        p.m = b1 * p.m + (1 - b1) * gr;
        p.v = b2 * p.v + (1 - b2) * gr.cwiseProduct(gr);
        Vector<double> val = p.value->cast<double>();
        val.array() -= lr * (p.m.array() / c1) / ((p.v.array() / c2).sqrt() + options.epsilon);
        *p.value = val.cast<float>();
      }
      ++res.steps;
    }
    res.epoch_loss.push_back(batches > 0 ? loss_sum / static_cast<double>(batches) : 0.0);
  }
  options.execution.report("train", 1.0);
  return res;
}

ContrastiveResult train_projection_head(const Embedder& base,
                                        const std::vector<TrainingPair>& pairs,
                                        const ContrastiveOptions& options) {
  options.validate();
  check_argument(pairs.size() >= 2, "pairs", "needs at least 2 pairs");
  std::vector<std::string> q, p;
  q.reserve(pairs.size());
  p.reserve(pairs.size());
  for (const auto& pr : pairs) {
    q.push_back(pr.query);
    p.push_back(pr.positive);
  }
  const RowMatrix<float> xq = base.embed(q);
  const RowMatrix<float> xp = base.embed(p);
  ContrastiveResult res = train_projection_head(xq, xp, options);
  res.head.set_base_name(base.name());
  return res;
}

}  // namespace popalign::embedding
