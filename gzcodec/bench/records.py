"""The schema of ``results.json``: every value a bench run records, typed.

A bench run is a :class:`BenchRun`; each of its parts is a frozen dataclass
whose fields, in order, are the keys of its JSON object (a field's
``metadata["json"]`` names a key that differs from the field). ``to_json()``
writes that object and ``from_json()`` reads it back, from any
``results.json`` written so far. The layout, top down::

    BenchRun
      meta: Meta                          command, date, Machine, CacheStats, a ModelEntry per model
      codecs: {name: CodecInfo}           every codec variant measured
      points: {key: RDPoint}              fixed settings, by "<codec> <param name>=<value>"
      ladders: {name: [key]}              each gzcodec model's points, by setting
      matched: {"<bytes>": MatchedTarget} per byte budget, per family: a MatchedCodec of Picks
                                          (keyed by bpp, "<bpp>", in runs before budgets in bytes)
      smallest: {family: SmallestFile}
      bd: {name: {family: BDEntry}}       each gzcodec ladder against each classic family
      grid: Grid                          the side-by-side faces, GridFaces
      poster_table: [PosterRow]           the poster's figures beside ours
      versus: {name: {"<bytes>": AgainstBestClassic}}  each gzcodec model against the best
                                          classic codec at each budget, on the faces it reaches
      bd_models: {name: {other: BDEntry}} each gzcodec ladder against each other model's (with
                                          several models; absent otherwise)

A :class:`Measurement` is one file decoded and compared with its original; a
:class:`Pick` is the file a codec family gets at a byte budget (a measurement
when some variant fits); a :class:`Mean` averages measurements. Nothing here
imports torch, Pillow or the codecs: the schema can be read anywhere.

Non-finite numbers (the PSNR of a lossless file, a BD-rate that cannot be
computed) are written as ``null`` (:mod:`gzcodec.bench.jsonio`) and read back
as NaN.
"""


from __future__ import annotations

from .measurements import (
    AgainstBestClassic,
    BDEntry,
    Grid,
    GridFace,
    MatchedCodec,
    MatchedTarget,
    Mean,
    Measurement,
    Pick,
    PosterFigures,
    PosterRow,
    RDPoint,
    SmallestFile,
    Variant,
    VariantFit,
    VariantMiss,
)
from .runrecord import BenchRun, CacheStats, CodecInfo, IdentityInfo, Machine, Meta, ModelEntry

__all__ = [
    "AgainstBestClassic",
    "BDEntry",
    "BenchRun",
    "CacheStats",
    "CodecInfo",
    "Grid",
    "GridFace",
    "IdentityInfo",
    "Machine",
    "MatchedCodec",
    "MatchedTarget",
    "Mean",
    "Measurement",
    "Meta",
    "ModelEntry",
    "Pick",
    "PosterFigures",
    "PosterRow",
    "RDPoint",
    "SmallestFile",
    "Variant",
    "VariantFit",
    "VariantMiss",
]
