# Type stubs of the compiled module popalign._core (python/src/*.cpp). Users call the wrappers
# in the `popalign` package, which are typed in their own .py files.
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

class Error(Exception): ...
class InvalidArgument(Error, ValueError):
    argument: str
class IoError(Error, OSError): ...
class ParseError(IoError): ...
class NumericalError(Error, ArithmeticError): ...
class Cancelled(Error): ...
class BackendError(Error): ...

ArrayLike = npt.ArrayLike
Progress = Optional[Callable[[str, float], Optional[bool]]]

class AlignOptions:
    n: int
    method: str
    output: str
    seed: int
    bandwidth_factor: float
    truncation: str
    kde_max_points: int
    candidate_factor: float
    max_candidates: int
    reg: float
    ot_max_reference: int
    ot_kernel_memory: int
    max_iter: int
    ot_tolerance: float
    max_count: int
    weighted_prior: bool
    calibrate: bool
    calibration_bins: int
    calibration_sweeps: int
    calibration: str
    refine: str
    refine_proposals: int
    refine_correlation_weight: float
    rounding: str
    ess_warn_fraction: float
    coverage_ratio: float
    coverage_warn_fraction: float
    compute_metrics: bool
    sliced_projections: int
    threads: int
    def __init__(self) -> None: ...
    def validate(self) -> None: ...

def align(pool: ArrayLike, reference: ArrayLike, options: AlignOptions, copy: bool = ...,
          progress: Progress = ..., traits: Sequence[str] = ...) -> Dict[str, Any]: ...
def sinkhorn(a: Optional[ArrayLike], b: Optional[ArrayLike], M: ArrayLike, reg: float,
             max_iter: int, tol: float, rtol: float, reg_m_a: float, reg_m_b: float,
             eps_scaling: bool, eps_scaling_factor: float, eps_scaling_iterations: int,
             eps_start: float, storage: str, kernel_memory: int, overrelaxation: bool,
             newton: bool, compute_cost: bool, warm: Optional[Tuple[ArrayLike, ArrayLike]],
             plan: bool, max_plan_entries: int, threads: int, copy: bool,
             progress: Progress) -> Dict[str, Any]: ...
def sinkhorn_points(x: ArrayLike, y: ArrayLike, a: Optional[ArrayLike], b: Optional[ArrayLike],
                    scale: float, reg: float, max_iter: int, tol: float, rtol: float,
                    reg_m_a: float, reg_m_b: float, eps_scaling: bool, eps_scaling_factor: float,
                    eps_scaling_iterations: int, eps_start: float, storage: str,
                    kernel_memory: int, overrelaxation: bool, newton: bool, compute_cost: bool,
                    warm: Optional[Tuple[ArrayLike, ArrayLike]], plan: bool,
                    max_plan_entries: int, threads: int, copy: bool,
                    progress: Progress) -> Dict[str, Any]: ...

class Kde:
    def __init__(self, data: ArrayLike, weights: Optional[ArrayLike] = ...,
                 bandwidth: Optional[Any] = ..., threads: int = ..., copy: bool = ...) -> None: ...
    def log_density(self, points: ArrayLike, copy: bool = ...) -> np.ndarray: ...
    size: int
    dim: int
    factor: float
    effective_n: float
    covariance: np.ndarray
    warnings: List[str]

def wasserstein_1d(a: ArrayLike, b: ArrayLike, a_weights: Optional[ArrayLike] = ...,
                   b_weights: Optional[ArrayLike] = ..., p: float = ..., copy: bool = ...) -> float: ...
def ks_1d(a: ArrayLike, b: ArrayLike, a_weights: Optional[ArrayLike] = ...,
          b_weights: Optional[ArrayLike] = ..., copy: bool = ...) -> float: ...
def column_wasserstein1(a: ArrayLike, b: ArrayLike, a_weights: Optional[ArrayLike] = ...,
                        b_weights: Optional[ArrayLike] = ..., copy: bool = ...) -> np.ndarray: ...
def column_ks(a: ArrayLike, b: ArrayLike, a_weights: Optional[ArrayLike] = ...,
              b_weights: Optional[ArrayLike] = ..., copy: bool = ...) -> np.ndarray: ...
def mean_gap(a: ArrayLike, b: ArrayLike, a_weights: Optional[ArrayLike] = ...,
             b_weights: Optional[ArrayLike] = ..., copy: bool = ...) -> np.ndarray: ...
def sd_gap(a: ArrayLike, b: ArrayLike, a_weights: Optional[ArrayLike] = ...,
           b_weights: Optional[ArrayLike] = ..., copy: bool = ...) -> np.ndarray: ...
def correlation_distance(a: ArrayLike, b: ArrayLike, a_weights: Optional[ArrayLike] = ...,
                         b_weights: Optional[ArrayLike] = ...,
                         copy: bool = ...) -> Tuple[float, float, float]: ...
def frechet_distance(a: ArrayLike, b: ArrayLike, a_weights: Optional[ArrayLike] = ...,
                     b_weights: Optional[ArrayLike] = ..., copy: bool = ...) -> float: ...
def population_metrics(a: ArrayLike, b: ArrayLike, a_weights: Optional[ArrayLike] = ...,
                       b_weights: Optional[ArrayLike] = ..., sliced: bool = ..., mmd: bool = ...,
                       n_projections: int = ..., seed: int = ..., mmd_max_points: int = ...,
                       bandwidth: float = ..., threads: int = ...,
                       copy: bool = ...) -> Dict[str, float]: ...
def sliced_wasserstein(a: ArrayLike, b: ArrayLike, a_weights: Optional[ArrayLike] = ...,
                       b_weights: Optional[ArrayLike] = ..., n_projections: int = ...,
                       p: float = ..., seed: int = ..., directions: Optional[ArrayLike] = ...,
                       threads: int = ..., copy: bool = ...) -> float: ...
def random_directions(n_projections: int, d: int, seed: int = ...) -> np.ndarray: ...
def mmd(a: ArrayLike, b: ArrayLike, a_weights: Optional[ArrayLike] = ...,
        b_weights: Optional[ArrayLike] = ..., bandwidth: float = ..., median_sample: int = ...,
        seed: int = ..., threads: int = ..., copy: bool = ...) -> Dict[str, float]: ...
def energy_distance(a: ArrayLike, b: ArrayLike, a_weights: Optional[ArrayLike] = ...,
                    b_weights: Optional[ArrayLike] = ..., threads: int = ...,
                    copy: bool = ...) -> float: ...
def sinkhorn_divergence(a: ArrayLike, b: ArrayLike, a_weights: Optional[ArrayLike] = ...,
                        b_weights: Optional[ArrayLike] = ..., reg: float = ..., scale: float = ...,
                        max_iter: int = ..., tol: float = ..., threads: int = ...,
                        copy: bool = ...) -> Dict[str, Any]: ...
def compare(a: ArrayLike, b: ArrayLike, a_weights: Optional[ArrayLike] = ...,
            b_weights: Optional[ArrayLike] = ..., trait_names: Sequence[str] = ...,
            sliced: bool = ..., mmd: bool = ..., n_projections: int = ..., seed: int = ...,
            threads: int = ..., copy: bool = ...) -> Dict[str, Any]: ...

class PersonaRecord:
    id: str
    text: str
    facts: List[str]
    line: int
    fields_json: str
    def __init__(self, id: str, text: str, facts: Sequence[str] = ...,
                 fields_json: str = ...) -> None: ...
    def to_json(self, with_facts: bool = ...) -> str: ...

def read_personas(path: str, id_field: str = ..., text_field: str = ..., facts_field: str = ...,
                  skip_bad_lines: bool = ..., unique_ids: bool = ...) -> List[PersonaRecord]: ...
def parse_personas(text: str, id_field: str = ..., text_field: str = ..., facts_field: str = ...,
                   unique_ids: bool = ...) -> List[PersonaRecord]: ...
def write_personas(path: str, personas: Sequence[PersonaRecord], with_facts: bool = ...) -> None: ...
def split_sentences(text: str) -> List[str]: ...

class Item:
    id: str
    text: str
    trait: str
    facet: str
    key: int
    aliases: List[str]
class Scale:
    min: int
    max: int
    labels: List[str]
class Dimension:
    code: str
    name: str
    trait: str
class Instrument:
    id: str
    name: str
    license: str
    reference: str
    scale: Scale
    items: List[Item]
    traits: List[Dimension]
    facets: List[Dimension]
    def __len__(self) -> int: ...

def resolve_instrument(spec: str) -> Instrument: ...
def parse_instrument(json: str, default_id: str = ...) -> Instrument: ...
def available_instruments() -> List[str]: ...
def score_matrix(instrument: Instrument, values: ArrayLike, ids: Sequence[str],
                 columns: Sequence[str], min_answered: float = ..., traits: bool = ...,
                 facets: bool = ..., use_names: bool = ...) -> Dict[str, Any]: ...
def score_file(instrument: Instrument, path: str, id_column: str = ...,
               missing_code: Optional[float] = ..., min_answered: float = ..., traits: bool = ...,
               facets: bool = ..., use_names: bool = ...) -> Dict[str, Any]: ...

def administer(instrument: Instrument, personas: Sequence[PersonaRecord], backend: Any, mode: str,
               model: str, seed: int, shuffle_items: bool, reverse_scale: bool, max_retries: int,
               temperature: Optional[float], max_tokens: int, top_logprobs: int,
               logprob_positions: int, personas_per_round: int, chunk_size: int,
               parallel_chunks: int, prompt: str, cache: str, api_key_env: str,
               concurrency: int, timeout: float, attempts: int, threads: int,
               progress: Progress) -> Dict[str, Any]: ...

def retrieve(personas: Sequence[PersonaRecord], queries: Sequence[str], k: int, embedder: Any,
             dimension: int, normalized: bool, scoring: str, threads: int) -> Dict[str, Any]: ...

def _view_address(array: ArrayLike, copy: bool = ...) -> int: ...
def _owned_array(n: int) -> Tuple[np.ndarray, int]: ...

def render_export(personas: Sequence[PersonaRecord], format: str, reference: Any,
                  reference_columns: Optional[Sequence[str]] = ...,
                  selection: Any = ...) -> List[Tuple[str, str]]: ...
def export_personas(personas: Sequence[PersonaRecord], format: str, out: str, reference: Any,
                    reference_columns: Optional[Sequence[str]] = ...,
                    selection: Any = ...) -> Dict[str, Any]: ...
def mbti_from_big_five(scores: Sequence[float], medians: Sequence[float]) -> str: ...

def mine(posts: str, backend: Any, embedder: Any, embedder_dimension: int, model: str, seed: int,
         max_authors: int, format: str, work_dir: str, round_size: int, cache: str,
         api_key_env: str, concurrency: int, timeout: float, attempts: int,
         progress: Optional[Callable[[str, int, int], Optional[bool]]]) -> Dict[str, Any]: ...

# The whole pipeline (python/src/pipeline.cpp; popalign.run / popalign.plan wrap these).
class PipelineConfig:
    @property
    def file(self) -> str: ...
    @property
    def run_dir(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def posts(self) -> str: ...
    @property
    def personas(self) -> str: ...
    @property
    def instrument(self) -> str: ...
    @property
    def n(self) -> int: ...
    @property
    def groups(self) -> List[str]: ...
    @property
    def models(self) -> Dict[str, Dict[str, Any]]: ...

class RunProgress:
    @property
    def stage(self) -> str: ...
    @property
    def done(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def overall(self) -> float: ...
    @property
    def cost_so_far(self) -> float: ...
    @property
    def cost_rest(self) -> float: ...

def parse_pipeline_config(text: str, path: str, exact_lines: bool) -> PipelineConfig: ...
def plan_pipeline(config: PipelineConfig) -> Dict[str, Any]: ...
def run_pipeline(config: PipelineConfig, generator: Any, judge: Any, respondent: Any,
                 embedder: Any, dimension: int,
                 progress: Optional[Callable[[RunProgress], Optional[bool]]],
                 log: Optional[Callable[[str], Any]]) -> Dict[str, Any]: ...
