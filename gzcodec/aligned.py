"""Encoding the faces of a photo, aligned: one ``.gzl`` file a face, each with its placement.

:mod:`gzcodec.align` finds each face and cuts it out as the training crops
are; here each crop is encoded by its model's family (as
:func:`gzcodec.encode_batch` does) and its file given the crop's
:class:`~gzcodec.container.Placement` and the photo's size, so that
:func:`gzcodec.paste_back` can put the decoded face back where it was.
``gzcodec.encode(image, align=True)`` is :func:`encode_face`.

Examples
--------
>>> from skimage import data
>>> files = encode_faces(data.astronaut(), max_bytes=441)      # doctest: +SKIP
>>> len(files), len(files[0]) <= 441                            # doctest: +SKIP
(1, True)
"""

from __future__ import annotations

import dataclasses

from .align import Face, ImageLike, detect_faces, no_face_name
from .container import HeaderV2, with_placement
from .errors import ImageInputError
from .families import family_of
from .imageio import read_rgb
from .model_choice import is_auto
from .options import EncodeOptions, OptionError
from .threads import runs_on_threads_for
from .zoo import LoadedModel, load_model

__all__ = ["encode_faces", "encode_face"]


def _placed_file(face: Face, photo_size: tuple[int, int], lm: LoadedModel, options: EncodeOptions) -> bytes:
    placement = face.placement
    size = face.crop.shape[0]
    plain = HeaderV2(model_id=bytes(4), width=size, height=size, source_width=size,
                     source_height=size, rate=0, coding=0)
    extra = dataclasses.replace(plain, placement=placement, source_width=photo_size[0],
                                source_height=photo_size[1]).header_size - plain.header_size
    if options.max_bytes is not None:
        if options.max_bytes <= extra + plain.header_size:
            raise ValueError(f"max_bytes {options.max_bytes} leaves no room for a face: its header "
                             f"alone is {plain.header_size + extra} bytes")
        # The placement's bytes come out of the budget: the file as written must fit it.
        options = dataclasses.replace(options, max_bytes=options.max_bytes - extra)
    data = family_of(lm).encode(lm, [face.crop], options, None)[0]
    return with_placement(data, placement, source_size=photo_size)


def _prepare(image: ImageLike, model, options, keywords, max_faces, min_face):
    options = EncodeOptions.from_arguments(options, **keywords)
    if options.format_version != 2:
        raise ValueError("aligned faces need format version 2 (version 1 has no placement field)")
    if is_auto(model):  # a face is found and cut at one model's size
        raise OptionError("$model auto does not go with $align; name a model")
    lm = load_model(model)
    family_of(lm).check_options(options, lm)
    photo = read_rgb(image)
    faces = detect_faces(photo, size=lm.config.image_size, max_faces=max_faces, min_face=min_face)
    if not faces:
        raise ImageInputError(f"{no_face_name(image)}: no face found")
    return lm, options, (photo.shape[1], photo.shape[0]), faces


@runs_on_threads_for("encode")
def encode_faces(image: ImageLike, *, model=None, max_faces: int | None = None,
                 min_face: float | None = None, options=None, **keywords) -> list[bytes]:
    """Encode every face of a photo, aligned: one ``.gzl`` file each, in reading order.

    Parameters
    ----------
    image : PIL image, array, path or binary file object
        The photo.
    model : str, path or LoadedModel, optional
        As :func:`gzcodec.encode`'s.
    max_faces, min_face
        As :func:`gzcodec.align.detect_faces`'s.
    options : EncodeOptions, optional
        And ``**keywords``: every option of :func:`gzcodec.encode`
        (``bits``, ``max_bytes``, ...). ``max_bytes`` bounds each whole file,
        the placement's bytes included.

    Returns
    -------
    list of bytes
        One file per face, each with its placement in the photo
        (:attr:`gzcodec.HeaderV2.placement`) and the photo's size as source size.

    Raises
    ------
    ImageInputError
        No face was found (or the image cannot be read).
    MissingDependencyError
        The ``align`` extra is not installed.
    """
    lm, options, photo_size, faces = _prepare(image, model, options, keywords, max_faces, min_face)
    return [_placed_file(face, photo_size, lm, options) for face in faces]


@runs_on_threads_for("encode")
def encode_face(image: ImageLike, *, model=None, min_face: float | None = None, options=None,
                **keywords) -> bytes:
    """Encode the one face of a photo, aligned (``gzcodec.encode(..., align=True)``).

    As :func:`encode_faces`, but a photo with several faces is an
    :class:`ImageInputError` that says how many (use :func:`encode_faces`).
    """
    lm, options, photo_size, faces = _prepare(image, model, options, keywords, None, min_face)
    if len(faces) > 1:
        raise ImageInputError(f"{no_face_name(image)}: {len(faces)} faces found; gzcodec.encode_faces "
                              "encodes each (or `gzcodec encode --align`)")
    return _placed_file(faces[0], photo_size, lm, options)
