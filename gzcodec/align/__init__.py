"""Faces from real photos: find each face, align it to the training crops, encode it.

The models are trained on aligned crops (a face of a set size, its eyes at set
places). A photo is searched for faces (dlib's HOG detector), each face's five
landmarks are found (dlib's 5-point model), and the similarity transform that
takes the template's landmarks (:mod:`gzcodec.align.template`, derived from
the training faces) onto them cuts the face out as the model's crop. Each
face's file carries that transform (a :class:`~gzcodec.container.Placement`,
about 10 bytes), so that :func:`paste_back` can put the decoded face back
into the photo.

Needs the optional extra: ``pip install "gzcodec[align]"``; without it every
function here raises :class:`~gzcodec.errors.MissingExtraError` saying so.

Examples
--------
>>> import gzcodec
>>> from skimage import data
>>> photo = data.astronaut()                                  # doctest: +SKIP
>>> faces = gzcodec.detect_faces(photo)                       # doctest: +SKIP
>>> len(faces), faces[0].crop.shape                           # doctest: +SKIP
(1, (128, 128, 3))
>>> files = gzcodec.encode_faces(photo, max_bytes=441)        # doctest: +SKIP
>>> pasted = gzcodec.align.paste_back(files, photo)           # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from PIL import Image
from skimage.transform import SimilarityTransform

from ..container import HeaderV2, Placement, unpack, with_placement
from ..errors import ImageInputError
from ..imageio import ImageSource, read_rgb
from .detect import find_faces, reading_order
from .geometry import alignment_transform, crop_face, from_placement, paste_face, to_placement
from .template import Template, eye_centres, load_template

__all__ = ["ALIGN_POINTS", "Face", "detect_faces", "encode_faces", "encode_face", "paste_back",
           "face_file_name"]

ImageLike = Image.Image | np.ndarray | ImageSource
#: The landmarks the alignment is fitted to: the four eye corners (not the nose).
ALIGN_POINTS = slice(0, 4)


@dataclasses.dataclass(frozen=True)
class Face:
    """A face found in a photo, and its aligned crop.

    Attributes
    ----------
    box : (float, float, float, float)
        The detector's box ``(left, top, right, bottom)``, photo pixels.
    score : float
        The detector's confidence (above 0 is a detection).
    landmarks : numpy.ndarray
        ``(5, 2)`` ``(x, y)``: two corners of each eye, then the base of the
        nose, photo pixel-centre coordinates.
    transform : skimage.transform.SimilarityTransform
        Crop coordinates to photo coordinates (the ``inverse_map`` of
        :func:`skimage.transform.warp` that cuts the crop out).
    crop : numpy.ndarray
        The aligned face, ``(size, size, 3)`` uint8: what is encoded.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    transform: SimilarityTransform
    crop: np.ndarray

    @property
    def eyes(self) -> np.ndarray:
        """``(2, 2)``: the eye centres in the photo."""
        return eye_centres(self.landmarks)

    @property
    def placement(self) -> Placement:
        """The transform as a ``.gzl`` header stores it (rounded to 1/16 pixel)."""
        return to_placement(self.transform, self.crop.shape[0])


def detect_faces(image: ImageLike, *, size: int = 128, max_faces: int | None = None,
                 min_face: float | None = None) -> list[Face]:
    """The faces in a photo, aligned to the training crops, in reading order.

    Parameters
    ----------
    image : PIL image, array, path or binary file object
        A photo, as :func:`gzcodec.encode` takes it (EXIF orientation applied).
    size : int
        The crop's side (the model's image size).
    max_faces : int, optional
        Keep only the largest this many faces.
    min_face : float, optional
        Smallest face looked for, in pixels (default 60, proportionally more
        in photos over 1024 pixels; see :func:`gzcodec.align.detect.find_faces`).

    Returns
    -------
    list of Face
        In reading order: rows from top to bottom, each row left to right.
        Empty if no face was found.
    """
    if max_faces is not None and max_faces < 1:
        raise ValueError(f"max_faces must be 1 or more, not {max_faces}")
    photo = read_rgb(image)
    detections = find_faces(photo, min_face=min_face)
    if max_faces is not None:
        detections = sorted(detections, key=lambda d: -(d.box[2] - d.box[0]))[:max_faces]
    template = load_template(size)
    # Fitted to the eye corners alone: they land on the template's within 2 pixels for 99.6 %
    # of the synthetic set's faces, where a fit to all five points (the nose too) gave 94.9 %
    # (results/align/README.md): the model's crops are defined by where the eyes are.
    eyes = Template(template.size, template.landmarks[ALIGN_POINTS])
    faces = []
    for i in reading_order([d.box for d in detections]):
        found = detections[i]
        transform = alignment_transform(found.landmarks[ALIGN_POINTS], eyes)
        faces.append(Face(found.box, found.score, found.landmarks, transform,
                          crop_face(photo, transform, size)))
    return faces


def _placed_file(face: Face, photo_size: tuple[int, int], lm, options) -> bytes:
    from ..codec import encode_batch

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
    data = encode_batch([face.crop], model=lm, options=options)[0]
    return with_placement(data, placement, source_size=photo_size)


def _prepare(image: ImageLike, model, options, keywords, max_faces, min_face):
    from ..codec import EncodeOptions, load_model

    options = EncodeOptions.from_arguments(options, **keywords)
    if options.format_version != 2:
        raise ValueError("aligned faces need format version 2 (version 1 has no placement field)")
    lm = load_model(model)
    options.validate(lm)
    photo = read_rgb(image)
    faces = detect_faces(photo, size=lm.config.image_size, max_faces=max_faces, min_face=min_face)
    if not faces:
        raise ImageInputError(f"{_name(image)}: no face found")
    return lm, options, (photo.shape[1], photo.shape[0]), faces


def _name(image: ImageLike) -> str:
    if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        return str(image)
    return f"the {type(image).__name__}"


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
        As :func:`detect_faces`'s.
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
    MissingExtraError
        The ``align`` extra is not installed.
    """
    lm, options, photo_size, faces = _prepare(image, model, options, keywords, max_faces, min_face)
    return [_placed_file(face, photo_size, lm, options) for face in faces]


def encode_face(image: ImageLike, *, model=None, min_face: float | None = None, options=None,
                **keywords) -> bytes:
    """Encode the one face of a photo, aligned (``gzcodec.encode(..., align=True)``).

    As :func:`encode_faces`, but a photo with several faces is an
    :class:`ImageInputError` that says how many (use :func:`encode_faces`).
    """
    lm, options, photo_size, faces = _prepare(image, model, options, keywords, None, min_face)
    if len(faces) > 1:
        raise ImageInputError(f"{_name(image)}: {len(faces)} faces found; gzcodec.encode_faces "
                              "encodes each (or `gzcodec encode --align`)")
    return _placed_file(faces[0], photo_size, lm, options)


def face_file_name(stem: str, index: int, count: int, suffix: str = ".gzl") -> str:
    """The file name of face ``index`` (from 1) of ``count``: ``photo.gzl`` or ``photo.face-2.gzl``.

    Examples
    --------
    >>> face_file_name("photo", 1, 1), face_file_name("photo", 2, 3)
    ('photo.gzl', 'photo.face-2.gzl')
    """
    return f"{stem}{suffix}" if count == 1 else f"{stem}.face-{index}{suffix}"


def paste_back(files: bytes | Sequence[bytes], photo: ImageLike, *, model=None) -> Image.Image:
    """The photo with each file's decoded face put back where it was cut out.

    Parameters
    ----------
    files : bytes or list of bytes
        ``.gzl`` files made by :func:`encode_faces` from this photo.
    photo : PIL image, array, path or binary file object
        The photo (its size must be the files' source size).

    Raises
    ------
    FormatError
        A file has no placement (it was not encoded with ``align``).
    ImageInputError
        The photo's size is not the one the faces were found in.
    """
    from ..codec import decode

    pixels = read_rgb(photo)
    height, width = pixels.shape[:2]
    for data in [files] if isinstance(files, (bytes, bytearray)) else files:
        header, _ = unpack(bytes(data))
        placement = getattr(header, "placement", None)
        if placement is None:
            from ..errors import FormatError

            raise FormatError("the file has no placement: it was not encoded with --align")
        if (header.source_width, header.source_height) != (width, height):
            raise ImageInputError(f"the face was found in a {header.source_width}x"
                                  f"{header.source_height} image, this one is {width}x{height}")
        face = np.asarray(decode(bytes(data), model=model))
        pixels = paste_face(pixels, face, from_placement(placement, header.width))
    return Image.fromarray(pixels, "RGB")
