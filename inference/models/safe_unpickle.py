"""Read whole pickled torchxrayvision ``DenseNet`` objects without running pickled code.

The released torchxrayvision weights are ``torch.save(model)`` of the whole module, so their
pickle names ``torchxrayvision.models.DenseNet`` and its block classes. We load them with
``torch.load(weights_only=True)``: its unpickler refuses every global that is not allow-listed
and only ever *calls* allow-listed callables (``__new__`` and ``nn.Module.__setstate__``, which
just fill ``__dict__``). The torchxrayvision classes are mapped onto empty ``nn.Module``
stand-ins defined here, so torchxrayvision need not be installed and none of its code runs;
the allowed ``torch.nn`` layers are the ones a DenseNet is made of.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn


class _StandIn(nn.Module):
    """Holds what the pickle set (``_modules``, ``_parameters``, ``_buffers``, attributes); no forward."""


class XrvDenseNet(_StandIn):
    """Stand-in for ``torchxrayvision.models.DenseNet``."""


class XrvDenseBlock(_StandIn):
    """Stand-in for ``torchxrayvision.models._DenseBlock``."""


class XrvDenseLayer(_StandIn):
    """Stand-in for ``torchxrayvision.models._DenseLayer``."""


class XrvTransition(_StandIn):
    """Stand-in for ``torchxrayvision.models._Transition``."""


XRV_MODULE = "torchxrayvision.models"

# Name in the pickle -> what we build instead. Nothing else in the file may be a class or function,
# apart from torch's own default allow-list (tensor and storage rebuild helpers, OrderedDict, ...).
STAND_INS: dict[str, type[nn.Module]] = {
    f"{XRV_MODULE}.DenseNet": XrvDenseNet,
    f"{XRV_MODULE}._DenseBlock": XrvDenseBlock,
    f"{XRV_MODULE}._DenseLayer": XrvDenseLayer,
    f"{XRV_MODULE}._Transition": XrvTransition,
}

TORCH_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Sequential,
    nn.Conv2d,
    nn.BatchNorm2d,
    nn.ReLU,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.Linear,
    nn.Upsample,
    nn.Dropout,
)


def allowed_globals() -> list[Any]:
    """The explicit allow-list handed to ``torch.serialization.safe_globals``."""
    allowed: list[Any] = [(cls, name) for name, cls in STAND_INS.items()]
    # Pickles name layers by their defining module (torch.nn.modules.conv.Conv2d ...).
    allowed += list(TORCH_LAYERS)
    allowed += [set]  # nn.Module._non_persistent_buffers_set
    return allowed


def load_restricted(path: Path) -> Any:
    """``torch.load`` with ``weights_only=True`` plus the xrv stand-ins; raises what torch raises."""
    with torch.serialization.safe_globals(allowed_globals()):
        return torch.load(str(path), map_location="cpu", weights_only=True)
