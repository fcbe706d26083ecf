"""Sub-commands of selective privacy obfuscation (thin wrappers over the library).

``motionlab obfuscate``      hide selected attributes behind motion-consistent noise
``motionlab baseline``       the naive baselines of Table 5.2 (pixelate, blur, mask)
``motionlab templates ...``  create / list / show / remove / rebuild templates; similarity
                             matrix
``motionlab privacy-eval``   Table 5.2 and the lambda sweep from prediction CSVs
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from motionlab import __version__
from motionlab.cli.options import (
    DIS_PRESETS,
    add_deprecated_alias,
    add_flow_opt,
    flow_opt_dict,
    int_type,
    number_type,
    size_type,
)
from motionlab.errors import MotionlabError

log = logging.getLogger("motionlab")


def _point(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected X,Y in pixels such as 160,80, got {text!r}"
        ) from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise argparse.ArgumentTypeError(f"expected finite X,Y in pixels, got {text!r}")
    return x, y


_unit_float = number_type(0, 1)

# what matplotlib writes from a suffix (motionlab.privacy.metrics saves by suffix)
PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def check_plot_name(path: Path | str | None, option: str) -> None:
    """Refuse a plot name whose suffix matplotlib cannot write, before any work."""
    if path is not None and Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise MotionlabError(
            f"{path}: {option} writes a picture: give a name ending in " + ", ".join(PLOT_SUFFIXES)
        )


# --------------------------------------------------------------------------------------
# matchers


def _add_matcher_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("matcher")
    g.add_argument(
        "--matcher",
        choices=("landmarks", "dino"),
        help="landmarks (offline, MediaPipe; default without --library) or dino "
        "(default with --library)",
    )
    g.add_argument("--library", type=Path, help="template library file (DINO templates)")
    g.add_argument(
        "--weights",
        type=Path,
        help="DINO ViT-S/8 checkpoint: timm state dict or the original DINO .pth "
        "(default: timm's hub weights, downloaded on first use)",
    )
    g.add_argument("--device", default="cpu", help="torch device of the DINO matcher (cpu)")
    g.add_argument(
        "--people",
        choices=("one", "many"),
        default="one",
        help="landmarks: body parts of the most prominent person (default, fast) or of "
        "everyone OpenCV's HOG people detector finds (wide shots; slow)",
    )
    g.add_argument(
        "--hands",
        choices=("landmarks", "frame", "pose"),
        default="landmarks",
        help="landmarks: 'hand' from the hand-landmark model run on a crop around each of "
        "the person's hands (precise fingers; default); frame: the hand-landmark model on "
        "the whole frame (also hands of people the pose model misses; slower); pose: from "
        "the pose model's wrist and finger points only (cheapest, coarse)",
    )
    g.add_argument(
        "--small-faces",
        choices=("auto", "on", "off"),
        default="auto",
        help="landmarks: faces too small for the face mesh (far people) found by a face "
        "detector on 192x192 tiles of the frame and hidden whole under any face template; "
        "auto (default): on frames at least 384 pixels high and wide",
    )


def _build_matcher(args: argparse.Namespace) -> Any:
    from motionlab.privacy.matchers import get_matcher

    name = args.matcher or ("dino" if args.library is not None else "landmarks")
    if name == "dino":
        if args.library is None:
            raise MotionlabError(
                "the dino matcher needs --library FILE (make one with motionlab templates create)"
            )
        return get_matcher("dino", library=args.library, weights=args.weights, device=args.device)
    if args.library is not None or args.weights is not None:
        raise MotionlabError("--library and --weights apply to the dino matcher only")
    if getattr(args, "templates", None) is not None:
        from motionlab.privacy.attributes import ATTRIBUTES, parse_names

        parse_names(args.templates, known=ATTRIBUTES)  # bad names: one line, no model loaded
    return get_matcher(
        "landmarks",
        people=args.people,
        hands_model=args.hands != "pose",
        hands_roi=args.hands == "landmarks",
        small_faces=getattr(args, "small_faces", "auto"),
    )


def _selected(args: argparse.Namespace, matcher: Any) -> tuple[str, ...]:
    from motionlab.privacy.attributes import parse_names

    return parse_names(args.templates, known=matcher.template_names)


# --------------------------------------------------------------------------------------
# obfuscate


def _colour(text: str) -> tuple[int, int, int]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise MotionlabError(f"--colour: expected R,G,B such as 0,0,0, got {text!r}")
    return values  # type: ignore[return-value]


def _replacement(args: argparse.Namespace) -> Any:
    """The ``Replacement`` of ``--replace`` and its settings; options of another kind fail."""
    from motionlab.privacy.baselines import WORK_SIZE
    from motionlab.privacy.replace import Replacement

    kind = args.replace
    Replacement(kind)  # an unknown name fails first, with the list of names
    owners = {
        "--block": ("pixelate", args.block),
        "--blur-kernel": ("blur", args.blur_kernel),
        "--blur-sigma": ("blur", args.blur_sigma),
        "--colour": ("colour", args.colour),
        "--native-size": ("blur or pixelate", args.native_size or None),
    }
    for option, (owner, value) in owners.items():
        if value is not None and kind not in owner.split(" or "):
            raise MotionlabError(f"{option} applies to --replace {owner}, not {kind}")
    settings: dict[str, Any] = {"work_size": None if args.native_size else WORK_SIZE}
    if args.block is not None:
        settings["block"] = args.block
    if args.blur_kernel is not None:
        settings["kernel"] = args.blur_kernel
    if args.blur_sigma is not None:
        settings["sigma"] = args.blur_sigma
    if args.colour is not None:
        settings["colour"] = _colour(args.colour)
    return Replacement(kind, **settings)


def cmd_obfuscate(args: argparse.Namespace) -> int:
    """motionlab obfuscate INPUT -o OUT --templates ... (the garbage collector paused until
    the first frame, see :mod:`motionlab.gcpause`)"""
    from motionlab.gcpause import paused_gc

    with paused_gc() as resume:
        return _obfuscate(args, resume)


def _obfuscate(args: argparse.Namespace, started: Callable[[], None]) -> int:
    from motionlab.atomic import refuse_overwrite_input

    for out in (args.output, args.save_saliency):
        refuse_overwrite_input(out, args.input, args.library, args.weights)
    from motionlab.afd.noise import NoiseRange
    from motionlab.cli.options import noise_range, reader_kwargs
    from motionlab.privacy.obfuscate import ObfuscationConfig, preload
    from motionlab.privacy.write import check_frame_count, saliency_target, write_obfuscation
    from motionlab.video import VideoReader, afd_codec_for

    replacement = _replacement(args)
    with_noise = replacement.kind == "noise"
    matcher = _build_matcher(args)
    names = _selected(args, matcher)
    # input errors before the models start loading (their logs would follow the line)
    with VideoReader(args.input, **reader_kwargs(args)) as probe:
        check_frame_count(args.input, probe.info.num_frames, with_noise=with_noise)
    preload(matcher, names, noise=args.noise if with_noise else None)  # while reading
    flow_options = flow_opt_dict(args.flow, args.flow_opt)
    preset = getattr(args, "flow_preset", None)  # the old --flow-preset
    if preset is not None:
        if "preset" in flow_options:
            raise MotionlabError("--flow-preset and --flow-opt preset both given; give one")
        flow_options["preset"] = preset
    # eq. 5.3 from the input: found by write_obfuscation as it decodes the frames
    range_from_video = with_noise and args.noise_range == "video" and args.noise_mean is None
    range_from_video = range_from_video and args.noise_std is None
    if range_from_video:
        the_range = NoiseRange(grayscale=args.grayscale)
    else:
        the_range = noise_range(args) if with_noise else NoiseRange()
    config = ObfuscationConfig(
        names,
        noise=args.noise,
        seed=args.seed,
        noise_range=the_range,
        flow_method=args.flow,
        flow_options=flow_options,
        replace=replacement,
    )
    record = {
        "version": __version__,
        "source": str(args.input),
        "start": args.start,
        "stop": args.stop,
        "resize": args.resize,
        "obfuscation": config.to_dict(),
        "matcher": matcher.describe(),
    }
    count = write_obfuscation(
        args.input,
        args.output,
        matcher=matcher,
        config=config,
        **reader_kwargs(args),
        codec=args.codec,
        saliency_output=args.save_saliency,
        keep_audio=args.keep_audio,
        provenance=record,
        provenance_inputs=(args.library, args.weights),
        progress=args.show_progress,
        range_from_video=range_from_video,
        on_first_frame=started,
    )
    log.info(
        "wrote %d frames to %s (%s, %s)", count, args.output,
        afd_codec_for(args.output, args.codec),
        f"seed {args.seed}" if with_noise else replacement.kind,
    )  # fmt: skip
    if args.save_saliency is not None:
        log.info("wrote the saliency maps to %s", saliency_target(args.save_saliency))
    return 0


# --------------------------------------------------------------------------------------
# baseline


def cmd_baseline(args: argparse.Namespace) -> int:
    """motionlab baseline INPUT -o OUT --method ..."""
    from motionlab.atomic import refuse_overwrite_input
    from motionlab.cli.options import reader_kwargs
    from motionlab.privacy.write import write_baseline

    refuse_overwrite_input(args.output, args.input)
    count = write_baseline(
        args.input, args.output, method=args.method, native_size=args.native_size,
        **reader_kwargs(args), codec=args.codec, keep_audio=args.keep_audio,
        progress=args.show_progress,
    )  # fmt: skip
    log.info("wrote %d frames to %s", count, args.output)
    return 0


# --------------------------------------------------------------------------------------
# templates


def _dino_settings(args: argparse.Namespace) -> Any:
    from motionlab.privacy.dino import DinoSettings

    return DinoSettings(
        layer=args.layer, facet=args.facet, stride=args.stride, load_size=args.load_size
    )


def cmd_templates_create(args: argparse.Namespace) -> int:
    """Take a DINO template at a point of an image (``--point X,Y`` or clicked with
    ``--pick``) and add it to a library."""
    import numpy as np

    from motionlab.atomic import refuse_overwrite_input
    from motionlab.privacy.dino import DinoExtractor, clipped_cosine
    from motionlab.privacy.templates import load_or_new, make_template, save_library
    from motionlab.video import read_image

    refuse_overwrite_input(args.library, args.image, args.weights)
    if (args.point is None) == (not args.pick):
        raise MotionlabError(
            "give the template's point with --point X,Y (pixels of --image) or click it "
            "with --pick (one of the two)"
        )
    if args.pick:
        from motionlab.privacy.picker import check_display

        check_display()  # before loading anything: fail fast where no window can open
    library = load_or_new(args.library)
    if args.name in library.names and not args.replace:
        raise MotionlabError(f"{args.library} already has a template {args.name!r}; pass --replace")
    settings = _dino_settings(args)
    if library.templates and library.templates[0].settings != settings:
        raise MotionlabError(
            f"{args.library} holds templates made with {library.templates[0].settings}; one "
            "library holds one setting: use the same --layer/--facet/--stride/--load-size or "
            "another library file"
        )
    image = read_image(args.image)
    extractor = DinoExtractor(settings=settings, weights=args.weights, device=args.device)
    descriptors = extractor.descriptors(image)
    point = args.point
    if args.pick:
        from motionlab.privacy.picker import pick_point

        h, w = image.shape[:2]

        def preview(x: float, y: float) -> np.ndarray:
            """Saliency of a template taken at (x, y): eq. 5.1-5.2 with that one template."""
            row, col = extractor.point_to_patch(x, y, h, w)
            sim = clipped_cosine(descriptors, descriptors[row, col][None])[0]
            return extractor.upsample(sim, h, w)

        point = pick_point(image, title=f"motionlab: template {args.name!r}", preview=preview)
        log.info("picked point %.0f,%.0f", *point)
    template = make_template(
        args.name, image, point, extractor=extractor, source_path=args.image,
        descriptors=descriptors,
    )  # fmt: skip
    save_library(library.add(template, replace_existing=args.replace), args.library)
    log.info("added template %r (patch %s) to %s", args.name, template.patch, args.library)
    return 0


def cmd_templates_list(args: argparse.Namespace) -> int:
    """Print the templates of a library (or the built-in attribute names)."""
    from motionlab.privacy.attributes import ATTRIBUTES
    from motionlab.privacy.templates import load_library

    if args.library is None:
        print("built-in templates of the landmarks matcher (no library needed):")
        print("  " + ", ".join(ATTRIBUTES))
        return 0
    library = load_library(args.library, allow_stale=True)  # listing shows what is stale
    if args.json:
        print(
            json.dumps(
                [
                    {k: v for k, v in t.to_dict().items() if k != "descriptor"}
                    for t in library.templates
                ],
                indent=1,
            )
        )
        return 0
    if not library.templates:
        print(f"{args.library}: no templates")
    for t in library.templates:
        s = t.settings
        print(
            f"{t.name:12s} {t.matcher} {s.model} layer {s.layer} {s.facet} stride {s.stride} "
            f"size {s.load_size} "
            f"| point ({t.point[0]:g}, {t.point[1]:g}) of {t.source.get('path', '?')} "
            f"| weights {t.weights[:22]} | {t.created}"
            + (" | STALE: key/query swapped, run templates rebuild" if t.stale else "")
        )
    return 0


def cmd_templates_show(args: argparse.Namespace) -> int:
    """Write a picture of a template's saliency map over its source (or another) image."""
    from motionlab.atomic import atomic_file, refuse_overwrite_input
    from motionlab.privacy.pictures import label, mark_point, overlay
    from motionlab.video import read_image, write_image

    refuse_overwrite_input(args.output, args.library, args.image, args.weights)
    if Path(args.output).suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise MotionlabError(f"{args.output}: write the picture as .png or .jpg")
    point = None
    if args.library is not None:
        from motionlab.privacy.dino import DinoMatcher
        from motionlab.privacy.templates import load_library

        library = load_library(args.library)
        template = library.get(args.name)
        source = args.image or Path(template.source.get("path", ""))
        if not source or not Path(source).is_file():
            raise MotionlabError(f"the source image of {args.name!r} is missing; give --image")
        image = read_image(source)
        matcher: Any = DinoMatcher(library=library, weights=args.weights, device=args.device)
        if args.image is None:
            point = template.point
    else:
        from motionlab.privacy.matchers import get_matcher

        if args.image is None:
            raise MotionlabError("built-in templates need an --image to show their map on")
        image = read_image(args.image)
        matcher = get_matcher("landmarks")
    maps = matcher(image, [args.name])
    picture = label(overlay(image, maps[0]), args.name)
    if point is not None:
        picture = mark_point(picture, *point)
    with atomic_file(args.output) as tmp:
        write_image(tmp, picture[:, :, ::-1])
    log.info("wrote %s", args.output)
    return 0


def cmd_templates_remove(args: argparse.Namespace) -> int:
    """Remove a template from a library file."""
    from motionlab.privacy.templates import load_library, save_library

    save_library(load_library(args.library).remove(args.name), args.library)
    log.info("removed %r from %s", args.name, args.library)
    return 0


def cmd_templates_rebuild(args: argparse.Namespace) -> int:
    """Remake every template of a library from its source image and point (the fix for
    libraries made before the DINO facet fix)."""
    from motionlab.privacy.templates import load_library, rebuild_library, save_library

    library = load_library(args.library, allow_stale=True)
    if not library.templates:
        raise MotionlabError(f"{args.library}: no templates to rebuild")
    stale = [t.name for t in library.templates if t.stale]
    rebuilt = rebuild_library(library, weights=args.weights, device=args.device)
    save_library(rebuilt, args.library)
    log.info(
        "rebuilt %d template(s) of %s (%d had the swapped key/query facet: %s)",
        len(rebuilt.templates), args.library, len(stale), ", ".join(stale) or "none",
    )  # fmt: skip
    return 0


def cmd_templates_similarity(args: argparse.Namespace) -> int:
    """Average saliency maps over videos (appendix eq. A.1) and compare every pair of
    templates (eq. A.2: the sum of absolute differences, or ``--measure mae|cosine``)."""
    import numpy as np

    from motionlab.atomic import refuse_overwrite_input
    from motionlab.cli.options import progress_bar
    from motionlab.privacy.metrics import MapAverager, compare_templates, plot_similarity
    from motionlab.video import VideoReader

    refuse_overwrite_input(args.output, *args.inputs, args.library, args.weights)
    check_plot_name(args.output, "-o")
    if args.every < 1:
        raise MotionlabError(f"--every must be >= 1, got {args.every}")
    matcher = _build_matcher(args)
    names = _selected(args, matcher)
    avg = MapAverager(names, size=args.size)
    for path in args.inputs:
        matcher.reset()
        with VideoReader(path) as reader:
            bar = progress_bar(
                reader.info.num_frames, Path(path).name, args.show_progress, unit="frame"
            )
            for t, frame in enumerate(reader):
                maps = matcher(frame, names)  # every frame: the matcher tracks over time
                if t % args.every == 0:
                    avg.add(maps)
                bar.update()
            bar.close()
    matrix = compare_templates(avg.mean, measure=args.measure)
    plot_similarity(matrix, names, args.output, measure=args.measure)
    with np.printoptions(precision=2, suppress=True):
        print(matrix)
    log.info("wrote %s (%s, %d frames)", args.output, args.measure, avg.count)
    return 0


# --------------------------------------------------------------------------------------
# privacy-eval


def cmd_privacy_eval(args: argparse.Namespace) -> int:
    """Print the Table 5.2-style summary of prediction CSVs; plot the lambda sweep."""
    from motionlab.atomic import refuse_overwrite_input
    from motionlab.privacy.metrics import (
        format_table,
        plot_lambda_sweep,
        read_predictions,
        score_methods,
    )

    refuse_overwrite_input(args.plot, *args.predictions)
    check_plot_name(args.plot, "--plot")
    rows = [r for path in args.predictions for r in read_predictions(path)]
    scores = score_methods(rows)
    print(format_table(scores, lam=args.lam))
    if args.plot is not None:
        plot_lambda_sweep(scores, args.plot)
        log.info("wrote %s", args.plot)
    return 0


# --------------------------------------------------------------------------------------
# parsers


def _add_obfuscate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``obfuscate``."""
    from motionlab.cli.options import add_input_options, add_keep_audio_option, add_noise_options

    p = sub.add_parser(
        "obfuscate",
        help="hide selected privacy attributes behind motion-consistent noise",
        description="Replace the selected attributes (saliency S from a matcher) by noise "
        "that moves with the video's optical flow: O = I + S (N - I) (thesis eq. 5.5). "
        "Pixels with S = 0 are unchanged. Outputs are lossless by default like `motionlab "
        "afd` (.avi raw, .mkv FFV1, .mp4 libx264rgb, FOLDER/ PNG); the settings are stored "
        "in the output's metadata.",
    )
    p.add_argument("input", help="video file or frame folder")
    p.add_argument("-o", "--output", required=True, help="out.mkv, out.avi, out.mp4 or FOLDER/")
    p.add_argument(
        "--templates",
        required=True,
        help="comma-separated template names, e.g. forehead,hair,eyes,cheek,lips; groups "
        "face, body, all (landmarks: forehead hair eyes cheek lips hand arm torso legs); "
        "the thesis's sets (Sec. 5.4): sbu and kth = torso,arm,legs,hair, ipn = "
        "cheek,eyes,forehead,hair",
    )
    p.add_argument(
        "--noise",
        choices=("motion", "first-frame", "iid"),
        default="motion",
        help="motion (default): noise carried by the flow; first-frame: the published AFD "
        "warping; iid: fresh noise every frame (the ablation, no motion)",
    )
    g = p.add_argument_group("replacement inside the mask")
    g.add_argument(
        "--replace",
        default="noise",
        metavar="noise|blur|pixelate|mask|colour",
        help="what replaces the salient pixels, blended with the same soft mask: noise "
        "(default, the thesis's motion-consistent noise); blur (Gaussian, kernel 21, sigma "
        "10), pixelate (16x16 blocks), both on the frame rescaled to 224x224 and back as the "
        "baselines; mask (the region's mean colour, weighted by the saliency); colour "
        "(--colour, black)",
    )
    g.add_argument("--block", type=int, metavar="PX", help="pixelate: block side in pixels (16)")
    g.add_argument(
        "--blur-kernel", type=int, metavar="K", help="blur: odd Gaussian kernel size (21)"
    )
    g.add_argument(
        "--blur-sigma", type=float, metavar="SIGMA", help="blur: Gaussian sigma in pixels (10)"
    )
    g.add_argument("--colour", metavar="R,G,B", help="colour: the fill, 0..255 each (0,0,0)")
    g.add_argument(
        "--native-size",
        action="store_true",
        help="blur/pixelate at the input size, not at 224x224 (sizes above are then pixels "
        "of the input)",
    )
    p.add_argument(
        "--save-saliency",
        metavar="PATH",
        help="also write the saliency maps (white = hidden) as FOLDER/ of PNGs or a video",
    )
    p.add_argument("--codec", help="raw, ffv1, x264rgb (lossless), h264 (lossy); default by suffix")
    add_keep_audio_option(p, "voices identify people and are not obfuscated")
    g = p.add_argument_group("optical flow of the noise")
    g.add_argument("--flow", default="dis", metavar="METHOD", help="flow method (default dis)")
    add_flow_opt(g)  # e.g. --flow-opt preset=medium (DIS preset; default fast)
    add_deprecated_alias(
        g, "--flow-preset", "--flow-opt preset=...", dest="flow_preset",
        choices=DIS_PRESETS,
    )  # fmt: skip
    _add_matcher_args(p)
    add_noise_options(p, per_video=True)
    # thesis eq. 5.3: noise drawn from mean +- std of the video unless told otherwise
    p.set_defaults(noise_range="video")
    add_input_options(p)
    p.set_defaults(func=cmd_obfuscate)


def _add_baseline(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``baseline``."""
    from motionlab.cli.options import add_input_options, add_keep_audio_option

    p = sub.add_parser(
        "baseline",
        help="naive obfuscation baselines of Table 5.2 (pixelate, blur, mask)",
        description="pixelate4 / pixelate16: 4x4 / 16x16 average pooling; blur-weak / "
        "blur-strong: Gaussian kernel 13 / 21, sigma 10 (both on frames rescaled to 224x224, "
        "then back to the input size); mask / mask-black: people (MediaPipe person "
        "segmentation) filled with their mean colour / black.",
    )
    p.add_argument("input", help="video file or frame folder")
    p.add_argument("-o", "--output", required=True, help="out.mp4, out.mkv or FOLDER/")
    p.add_argument(
        "--method",
        required=True,
        choices=("pixelate4", "pixelate16", "blur-weak", "blur-strong", "mask", "mask-black"),
    )
    p.add_argument(
        "--native-size", action="store_true", help="pixelate/blur at the input size, not 224x224"
    )
    p.add_argument("--codec", help="h264 (default for .mp4), ffv1, x264rgb, raw")
    add_keep_audio_option(p, "voices identify people and are not obfuscated")
    add_input_options(p)
    p.set_defaults(func=cmd_baseline)


def _add_templates_create(tsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``templates create``."""
    t = tsub.add_parser(
        "create", help="take a DINO template at --point X,Y of --image, or at a clicked --pick"
    )
    t.add_argument("name", help="template name, e.g. hair")
    t.add_argument("--image", required=True, type=Path, help="source image")
    where = t.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--point", type=_point, metavar="X,Y", help="pixel of the image (x right, y down)"
    )
    where.add_argument(
        "--pick",
        action="store_true",
        help="click the point on the image in a window (needs a display and an interactive "
        "matplotlib backend); the tint shows what a template there selects; Enter or "
        "closing the window keeps it, Esc cancels",
    )
    t.add_argument("--library", required=True, type=Path, help="library file (created if missing)")
    t.add_argument("--replace", action="store_true", help="replace a template of that name")
    t.add_argument(
        "--layer", type=int_type(0, 11), default=11, help="ViT block, 0-based (default 11: last)"
    )
    t.add_argument("--facet", choices=("key", "query", "value", "token"), default="key")
    t.add_argument("--stride", type=int, default=4, help="patch stride in pixels (default 4)")
    t.add_argument("--load-size", type=int, default=224, help="short side fed to the ViT (224)")
    t.add_argument("--weights", type=Path, help="DINO checkpoint (default: timm hub weights)")
    t.add_argument("--device", default="cpu", help="torch device (cpu)")
    t.set_defaults(func=cmd_templates_create)


def _add_templates_list(tsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``templates list``."""
    t = tsub.add_parser("list", help="list a library's templates (or the built-in ones)")
    t.add_argument("--library", type=Path, help="library file")
    t.add_argument("--json", action="store_true", help="print the entries as JSON")
    t.set_defaults(func=cmd_templates_list)


def _add_templates_show(tsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``templates show``."""
    t = tsub.add_parser("show", help="picture of a template's saliency over its source image")
    t.add_argument("name", help="template name")
    t.add_argument("-o", "--output", required=True, type=Path, help="out.png")
    t.add_argument("--library", type=Path, help="library file (default: built-in templates)")
    t.add_argument("--image", type=Path, help="image to show the map on (default: the source)")
    t.add_argument("--weights", type=Path, help="DINO checkpoint (default: timm hub weights)")
    t.add_argument("--device", default="cpu", help="torch device (cpu)")
    t.set_defaults(func=cmd_templates_show)


def _add_templates_remove(tsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``templates remove``."""
    t = tsub.add_parser("remove", help="remove a template from a library")
    t.add_argument("name", help="template name")
    t.add_argument("--library", required=True, type=Path, help="library file")
    t.set_defaults(func=cmd_templates_remove)


def _add_templates_rebuild(tsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``templates rebuild``."""
    t = tsub.add_parser(
        "rebuild",
        help="remake a library's templates from their source images and points (fixes "
        "libraries made before the DINO key/query fix)",
    )
    t.add_argument("--library", required=True, type=Path, help="library file (rewritten)")
    t.add_argument(
        "--weights",
        type=Path,
        help="the DINO checkpoint the templates were made with (checked against its SHA-256; "
        "default: timm hub weights, or the recorded random seed)",
    )
    t.add_argument("--device", default="cpu", help="torch device (cpu)")
    t.set_defaults(func=cmd_templates_rebuild)


def _add_templates_similarity(tsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``templates similarity``."""
    t = tsub.add_parser(
        "similarity",
        help="appendix A.1-A.2: average each template's saliency maps over videos and "
        "compare every pair (sum of absolute differences; brighter = more similar)",
    )
    t.add_argument("inputs", nargs="+", help="videos or frame folders")
    t.add_argument(
        "--templates",
        required=True,
        help="comma-separated names (or the groups face, body, all; the thesis's sets sbu, "
        "kth, ipn)",
    )
    t.add_argument("-o", "--output", required=True, type=Path, help="matrix picture (.png)")
    t.add_argument("--every", type=int, default=1, help="average every N-th frame (default 1)")
    t.add_argument(
        "--measure",
        choices=("l1", "mae", "cosine"),
        default="l1",
        help="l1 (default): eq. A.2 as written, sum over pixels of |mean map i - mean map j| "
        "(a distance: 0 = identical); mae: the same divided by the number of pixels (Fig. "
        "A.6's 'mean error'); cosine: cosine similarity of the mean maps (an alternative)",
    )
    t.add_argument(
        "--size",
        type=size_type,
        metavar="WxH",
        help="average the maps on this grid (default: the frames' own size, which must then "
        "be the same in every input)",
    )
    _add_matcher_args(t)
    t.set_defaults(func=cmd_templates_similarity)


def _add_templates(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``templates``."""

    p = sub.add_parser(
        "templates",
        help="create, list, show, remove or rebuild privacy templates",
        description="Templates name what to hide. The landmarks matcher has the nine "
        "attributes built in; DINO templates are descriptors taken at a point of an image "
        "and stored, with their provenance, in a library file (JSON).",
    )
    tsub = p.add_subparsers(dest="templates_command", metavar="ACTION", required=True)
    _add_templates_create(tsub)
    _add_templates_list(tsub)
    _add_templates_show(tsub)
    _add_templates_remove(tsub)
    _add_templates_rebuild(tsub)
    _add_templates_similarity(tsub)


def _add_privacy_eval(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``privacy-eval``."""

    p = sub.add_parser(
        "privacy-eval",
        help="Table 5.2 (action top-1, privacy top-1, f_lambda) from prediction CSVs",
        description="Read per-video predictions (CSV columns method,video,action_true,"
        "action_pred,privacy_true,privacy_pred) for any set of obfuscation methods; print "
        "action and privacy top-1 and f_lambda = (1 - lambda) a + lambda (1 - p) "
        "(thesis eq. 5.6), and optionally plot f_lambda over lambda (Fig. 5.7).",
    )
    p.add_argument("predictions", nargs="+", type=Path, help="CSV file(s)")
    p.add_argument("--lambda", dest="lam", type=_unit_float, default=0.5, help="lambda (0.5)")
    p.add_argument("--plot", type=Path, help="write the lambda sweep to this .png/.pdf/.svg")
    p.set_defaults(func=cmd_privacy_eval)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``obfuscate``, ``baseline``, ``templates`` and ``privacy-eval``."""
    _add_obfuscate(sub)
    _add_baseline(sub)
    _add_templates(sub)
    _add_privacy_eval(sub)
