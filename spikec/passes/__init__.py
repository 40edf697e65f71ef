"""Graph-to-graph passes: each a pure function ``Graph -> Graph``.

Every pass preserves the NumPy reference output of the graph for any inputs
(some up to floating-point rounding; each docstring says) and never mutates
its input.  :class:`PassManager` runs a pipeline of them and keeps a
:class:`PassLog` (printable as a table) of what each pass did.

==================  ==============================================================
pass                what it does
==================  ==============================================================
hoist_gram          (M @ A - I) @ A.T -> M @ (A @ A.T) - A.T when A reads no state
factor_scales       (c x) @ y -> c (x @ y): scalar factors after products (opt-in; autotune tries it)
expand_bilinear     matmul / einsum_bilinear / div / broadcasting mul -> mul units
fold_constants      constant sub-expressions -> const; ops with a const -> linear
remove_identities   no-op reshapes, transposes, slices, ...
cse                 common sub-expressions merged (commutative ops too)
dce                 nodes no output depends on removed
merge_units         independent nonlinear nodes of one kind -> one node
fuse_linear         trees of linear ops -> one ``affine`` op
budget              neurons and rates per nonlinear unit (``attrs["tuning"]``)
==================  ==============================================================

:func:`spikec.ir.linear_map.linear_map` gives the matrix form of any
linear op; the lowering uses it to fold linear maps into weights.
"""

from spikec.ir.linear_map import linear_map
from spikec.passes.budget import budget
from spikec.passes.cse import eliminate_common_subexpressions
from spikec.passes.dce import eliminate_dead_code
from spikec.passes.expand_bilinear import expand_bilinear
from spikec.passes.factor_scales import factor_scales
from spikec.passes.fold_constants import fold_constants
from spikec.passes.fuse_linear import fuse_linear
from spikec.passes.hoist_gram import hoist_gram
from spikec.passes.manager import (
    DEFAULT_PIPELINE,
    LOWERING_PIPELINE,
    PASSES,
    PassLog,
    PassManager,
    PassRecord,
    register_pass,
    run_passes,
)
from spikec.passes.merge_units import merge_units
from spikec.passes.prepare import prepare_for_lowering, unprepared
from spikec.passes.remove_identities import remove_identities

__all__ = [
    "DEFAULT_PIPELINE",
    "LOWERING_PIPELINE",
    "PASSES",
    "PassLog",
    "PassManager",
    "PassRecord",
    "budget",
    "eliminate_common_subexpressions",
    "eliminate_dead_code",
    "expand_bilinear",
    "factor_scales",
    "fold_constants",
    "fuse_linear",
    "hoist_gram",
    "linear_map",
    "merge_units",
    "prepare_for_lowering",
    "register_pass",
    "remove_identities",
    "run_passes",
    "unprepared",
]
