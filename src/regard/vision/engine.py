"""FaceEngine: the one object the rest of Regard uses to find faces and turn them into embeddings.

Construction is cheap (the pack's manifest is read, nothing is loaded); each model's session is created on
first use, once, under a lock, after its file's hash is checked, on the runtime and precision that
``vision.runtimes`` chooses (OpenVINO bf16 where the CPU has it, else fp32; onnxruntime on request). Every
method may be called from several threads at once (every ``CompiledModel`` is thread-safe for ``run``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from regard.vision.alignment import align_faces
from regard.vision.detection import Detections, Pass, ScrfdDetector, largest_first
from regard.vision.embedding import Recogniser
from regard.vision.face import Face, Pose
from regard.vision.image import DecodedImage
from regard.vision.landmarks import LandmarkModel
from regard.vision.packs import ModelPack, PackFile, load_pack
from regard.vision.pose import estimate_poses
from regard.vision.quality import measure_quality
from regard.vision.runtimes import CompiledModel, Plan, compile_model, plan
from regard.vision.sessions import Lazy

DEFAULT_MAX_FACES = 100
"""Rekognition's DetectFaces returns the 100 largest faces."""


class FaceEngine:
    """Detect faces (box, score, keypoints, pose, quality; 106 landmarks on request when the pack has them)
    and embed them.
    """

    def __init__(
        self,
        pack: ModelPack | None = None,
        *,
        threads: int | None = None,
        runtime: str | None = None,
        precision: str | None = None,
    ) -> None:
        """``runtime`` (openvino, onnxruntime) and ``precision`` (bf16, fp32) override ``REGARD_RUNTIME`` and
        ``REGARD_PRECISION`` and the per-model defaults (``vision.runtimes.choice``).
        """
        self.pack = pack if pack is not None else load_pack()
        self._threads = threads
        self.plans: dict[str, Plan] = {
            f.role: plan(f.role, runtime=runtime, precision=precision) for f in self.pack.files
        }
        """Role -> the runtime and precision its model runs on (decided now, so a bad setting fails early)."""
        detector_file = self.pack.require("detector")
        recogniser_file = self.pack.require("recogniser")
        landmark_file = self.pack.file("landmarks")
        self._detector = Lazy(
            lambda: ScrfdDetector(
                self._session(detector_file), detector_file.normalisation, strides=detector_file.strides
            )
        )
        self._recogniser = Lazy(
            lambda: Recogniser(
                self._session(recogniser_file, fixed_input=True),
                recogniser_file.normalisation,
                self.pack.embedding_size,
            )
        )
        self._landmarks: Lazy[LandmarkModel] | None = None
        if landmark_file is not None:
            self._landmarks = Lazy(
                lambda: LandmarkModel(
                    self._session(landmark_file, fixed_input=True), landmark_file.normalisation
                )
            )

    @property
    def model_version(self) -> str:
        """What a collection records as FaceModelVersion, e.g. ``buffalo_s/1.0``."""
        return self.pack.model_version

    @property
    def index_model_version(self) -> str:
        """Digits and dots only (Rekognition's IndexFacesModelVersion pattern ``[0-9.]+``), e.g. ``1.0``."""
        return self.pack.version

    @property
    def embedding_size(self) -> int:
        return self.pack.embedding_size

    @property
    def has_landmarks(self) -> bool:
        return self._landmarks is not None

    def warm_up(self) -> None:
        """Create every session now (a server calls this at start so the first request is not slow)."""
        self._detector.get()
        self._recogniser.get()
        if self._landmarks is not None:
            self._landmarks.get()

    def detections(
        self,
        image: DecodedImage,
        *,
        max_faces: int | None = DEFAULT_MAX_FACES,
        passes: list[Pass] | None = None,
    ) -> Detections:
        """Raw detections, largest first, at most ``max_faces`` (None: all); no landmarks, pose or quality.

        ``passes`` overrides the adaptive input sizes of ``detection.plan_passes`` (benchmarks use it).
        """
        return largest_first(self._detector.get().detect(image.pixels, passes), max_faces)

    def detect(
        self,
        image: DecodedImage,
        *,
        max_faces: int | None = DEFAULT_MAX_FACES,
        passes: list[Pass] | None = None,
        landmarks: bool = False,
    ) -> list[Face]:
        """Faces largest first (by box area, as Rekognition orders), at most ``max_faces`` (None: all).

        Pose and quality come from the detector's keypoints and the pixels; the 106-point landmark model
        (6 ms a face) runs only with ``landmarks=True`` (DetectFaces with Attributes ALL, 30 landmark types)
        and when the pack has one; otherwise ``Face.landmarks`` is None.
        """
        found = self.detections(image, max_faces=max_faces, passes=passes)
        if len(found) == 0:
            return []
        points: NDArray[np.float32] | list[None] = [None] * len(found)
        if landmarks and self._landmarks is not None:
            points = self._landmarks.get().predict(image.pixels, found.boxes)
        poses = estimate_poses(found.keypoints).tolist()
        return [
            Face(
                box=found.boxes[i],
                score=float(found.scores[i]),
                keypoints=found.keypoints[i],
                pose=Pose(*poses[i]),
                quality=measure_quality(image.pixels, found.boxes[i]),
                landmarks=points[i],
            )
            for i in range(len(found))
        ]

    def embed(self, image: DecodedImage, faces: Sequence[Face]) -> NDArray[np.float32]:
        """Embeddings ``(n, d)`` float32, L2-normalised, in the order of ``faces``; ``(0, d)`` for none."""
        if not faces:
            return np.zeros((0, self.embedding_size), dtype=np.float32)
        keypoints = np.stack([face.keypoints for face in faces])
        return self.embed_keypoints(image, keypoints)

    def embed_keypoints(self, image: DecodedImage, keypoints: NDArray[np.floating]) -> NDArray[np.float32]:
        """Embeddings for faces given only by their ``(n, 5, 2)`` keypoints."""
        if len(keypoints) == 0:
            return np.zeros((0, self.embedding_size), dtype=np.float32)
        return self._recogniser.get().embed(align_faces(image.pixels, keypoints))

    def _session(self, pack_file: PackFile, *, fixed_input: bool = False) -> CompiledModel:
        return compile_model(
            pack_file.read_verified(),
            name=str(pack_file.path),
            plan=self.plans[pack_file.role],
            threads=self._threads,
            fixed_input=fixed_input,
        )
