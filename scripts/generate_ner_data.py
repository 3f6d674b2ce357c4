#!/usr/bin/env python3
"""Generate the NER (abstract sections) sample data, deterministically: `python scripts/generate_ner_data.py [--out DIR]`.

The abstracts below were written for this project (they describe no real study). Each sentence is
tagged with one of the six section labels; a few abstracts are deliberately poor (no results, vague
claims) and judged No on the workflow's Yes/No question. Abstract 01 carries non-ASCII characters (°C, µm, Å,
Ångström, an en and an em dash) so that offsets are exercised as Unicode code points.

Writes, under the output folder:

- ``abstracts/abstract-NN.txt``: the abstract, sentences joined by single spaces (UTF-8, no newline);
- ``pages/abstract-NN.jpg``: a rendered first page (title, authors, the abstract, body placeholder);
- ``manifest.jsonl``: ``{"source-ref", "text-file-s3-uri", "metadata": {"Title", "Author", "ISBN"}}``
  per abstract, with the literal ``${DATA_PREFIX_URI}`` filled in at deploy time;
- ``truth.json``: ``{"abstract-NN": {"<spans question>": [{"label", "startOffset", "endOffset"}],
  "<yes/no question>": "Yes"|"No"}}`` (the truth file format of ``local_ground_truth.truth``), one span
  per sentence; offsets are Unicode code points into the .txt text, end exclusive.

The six section labels, and the questions' names, are those of the NER workflow's definition
(workflows/ner.py): the sentences below are tagged by position in its label list.

Pages are drawn with the DejaVu fonts shipped inside matplotlib and Pillow's basic text layout, so
the JPEG bytes do not depend on the machine's fonts or on libraqm.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import matplotlib
from PIL import Image, ImageDraw, ImageFont

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

import workflows  # noqa: E402
from gt_common.input_manifest import SOURCE_REF  # noqa: E402
from gt_common.questions import Spans, YesNo  # noqa: E402
from gt_common.shown_text import TEXT_FILE_KEY  # noqa: E402
from labeling_constructs.data_prefix import DATA_PREFIX_PLACEHOLDER as PLACEHOLDER  # noqa: E402
from workflows.model import truth_key  # noqa: E402

WORKFLOW = workflows.definition("ner")
[SECTIONS] = [q for q in WORKFLOW.questions if isinstance(q, Spans)]
[JUDGEMENT] = [q for q in WORKFLOW.questions if isinstance(q, YesNo)]
LABELS = SECTIONS.span_labels
DEFAULT_OUT = WORKFLOW.sample_data_dir
PAGE_WIDTH, PAGE_HEIGHT, MARGIN = 850, 1100, 85
JPEG_QUALITY = 80
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"

if len(LABELS) != 6:
    raise SystemExit(f"generate_ner_data: the abstracts are tagged with six sections; {SECTIONS.name} has "
                     f"{len(LABELS)} labels: {', '.join(LABELS)}")
B, O, M, R, L, C = LABELS  # background, objectives, methods, results, limitations, conclusions, in the definition's order


def isbn13(stem: str) -> str:
    """``stem`` (12 digits, hyphens allowed) plus its ISBN-13 check digit."""
    digits = [int(ch) for ch in stem if ch.isdigit()]
    assert len(digits) == 12, stem
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return f"{stem}-{check}"


# Each abstract: title, authors, ISBN stem, judged good?, [(label, sentence), ...].
ABSTRACTS: list[dict] = [
    {
        "title": "Grain-boundary segregation of magnesium in recycled Al–Si casting alloys",
        "authors": ["Ingrid Søndergaard", "Tomás Ibáñez", "Priya Raghavan"],
        "isbn": "978-1-9876-0001",
        "good": "Yes",
        "sentences": [
            (B, "Recycled aluminium alloys accumulate trace elements that are hard to remove during remelting, and some of them weaken the metal in service."),
            (O, "We measured how magnesium segregates to grain boundaries in a secondary Al–Si casting alloy during artificial ageing at 180 °C."),
            (M, "Specimens aged for 2 to 48 h were thinned to about 100 µm and examined by atom-probe tomography with a depth resolution near 3 Å."),
            (R, "The magnesium excess at grain boundaries rose steeply during the first 8 h and then levelled off at roughly 4 atoms per nm²."),
            (R, "Specimens with the highest boundary excess lost 17 % of their fracture toughness relative to freshly quenched material."),
            (L, "Only one alloy composition was studied, and each atom-probe volume samples just a few hundred Ångström-sized cross-sections of the boundary network."),
            (C, "Limiting the ageing time is a simple lever against embrittlement in recycled alloys — one that needs no costly refining of the melt."),
        ],
    },
    {
        "title": "Pollinator visitation along an urban-to-rural gradient in a temperate river valley",
        "authors": ["Helena Marsh", "Kwame Owusu"],
        "isbn": "978-1-9876-0002",
        "good": "Yes",
        "sentences": [
            (B, "Urban expansion changes the amount and arrangement of flowering habitat available to wild pollinators."),
            (O, "This study asked whether visitation rates to a common native wildflower differ between city parks, suburban gardens and farmland margins."),
            (M, "Over two summers we placed standardised potted plants at 36 sites and recorded every insect visit during 20-minute watches."),
            (M, "Site-level counts were modelled with a negative binomial regression that included impervious surface cover and floral density within 500 m."),
            (R, "Bumblebee visits were highest in suburban gardens, whereas hoverfly visits declined steadily with increasing impervious cover."),
            (R, "Seed set per flower followed total visitation and was lowest at the most heavily paved sites."),
            (L, "Weather differed markedly between the two seasons, and a single plant species cannot represent the whole flowering community."),
            (C, "Suburban gardens can sustain some pollinator groups, but dense urban cores appear to support a narrower set of visitors."),
        ],
    },
    {
        "title": "Home blood-pressure telemonitoring after hospital discharge for heart failure: a pragmatic trial",
        "authors": ["Sofia Lindqvist", "Daniel Okafor", "Mei-Ling Chen", "Robert Adeyemi"],
        "isbn": "978-1-9876-0003",
        "good": "Yes",
        "sentences": [
            (B, "Readmission within 30 days remains common after a hospital stay for heart failure, and early warning signs are often missed at home."),
            (O, "We evaluated whether daily home telemonitoring of blood pressure and body weight reduces readmissions compared with usual follow-up."),
            (M, "In a pragmatic trial at four regional hospitals, 412 adults were randomly assigned to telemonitoring with nurse review or to usual care."),
            (M, "The primary outcome was unplanned readmission for any cause within 90 days of discharge."),
            (R, "Readmission occurred in 21 % of the telemonitoring group and 29 % of the usual-care group, a difference that was statistically significant."),
            (R, "Patients with the lowest baseline kidney function gained the most, while adherence to daily measurement fell to about 60 % by the third month."),
            (L, "Clinicians could not be blinded to group allocation, and the trial was not powered to detect differences in mortality."),
            (C, "Simple home telemonitoring with nurse oversight is a feasible way to reduce early readmissions after heart failure."),
        ],
    },
    {
        "title": "How much label noise can crowd-sourced sentence classification tolerate?",
        "authors": ["Arjun Mehta", "Lucía Fernández", "Jonas Becker"],
        "isbn": "978-1-9876-0004",
        "good": "Yes",
        "sentences": [
            (B, "Text classifiers are frequently trained on labels collected from crowd workers, whose answers vary in quality."),
            (O, "We quantify how the accuracy of a fine-tuned transformer degrades as the share of wrong training labels grows."),
            (M, "Starting from an expert-labelled corpus of 40,000 sentences, we injected random and class-dependent noise at rates from 0 to 50 %."),
            (M, "We compared plain training, majority voting over three simulated workers, and a worker-reliability model estimated by expectation maximisation."),
            (R, "With random noise, test accuracy stayed within two points of the clean baseline up to a noise rate of 30 %."),
            (R, "Class-dependent noise was far more harmful, and the reliability model recovered about half of the lost accuracy where majority voting recovered little."),
            (C, "Collecting several judgements per item and modelling worker reliability is worthwhile when annotation errors are systematic rather than random."),
        ],
    },
    {
        "title": "Rising frequency of snow drought in mid-latitude mountain basins",
        "authors": ["Elena Petrova", "Mateo Rojas"],
        "isbn": "978-1-9876-0005",
        "good": "Yes",
        "sentences": [
            (B, "Mountain snowpack stores winter precipitation and releases it as meltwater during the dry season, when downstream demand peaks."),
            (O, "We examined how often basins experienced snow drought, defined as a spring snowpack below the 20th percentile, over the past six decades."),
            (M, "We combined station records with a gridded snow reanalysis for 118 basins and separated warm snow droughts from dry snow droughts."),
            (R, "The frequency of snow drought roughly doubled between the first and last twenty-year periods."),
            (R, "Most of the increase came from warm snow droughts, in which precipitation was near normal but fell as rain instead of snow."),
            (L, "Station coverage is sparse above 3000 m, so the highest terrain relies mainly on the reanalysis."),
            (C, "Water managers should plan for more years in which snowpack fails even though precipitation totals look normal."),
        ],
    },
    {
        "title": "Thermal tolerance of reef-building coral larvae from an inshore and an offshore reef",
        "authors": ["Keala Kahananui", "Fiona MacLeod", "Hiroshi Tanaka"],
        "isbn": "978-1-9876-0006",
        "good": "Yes",
        "sentences": [
            (B, "Marine heatwaves are becoming longer and more frequent, and the survival of coral larvae during dispersal may limit how reefs recover afterwards."),
            (O, "We compared the heat tolerance of larvae spawned by colonies from a warm inshore reef and a cooler offshore reef."),
            (M, "Larvae from both populations were reared at ambient temperature or at three degrees above ambient for ten days."),
            (M, "Survival, settlement on conditioned tiles, and the density of symbiotic algae were recorded every second day."),
            (R, "Under heat stress, inshore larvae survived about twice as well as offshore larvae and settled at higher rates."),
            (L, "Only one spawning season was sampled, and parental effects could not be separated from genetic differences."),
            (C, "Warm inshore reefs may act as a source of heat-tolerant recruits for reefs that are warming faster."),
        ],
    },
    {
        "title": "Short-term sleep restriction and working memory in adolescents",
        "authors": ["Clara Nguyen", "Samuel Ortiz"],
        "isbn": "978-1-9876-0007",
        "good": "Yes",
        "sentences": [
            (B, "Many adolescents sleep less than recommended on school nights, yet the short-term cognitive cost of this deficit is debated."),
            (O, "We tested whether five nights of restricted sleep impair working memory in healthy teenagers."),
            (M, "Sixty participants aged 14 to 17 completed a crossover protocol with five nights of seven hours in bed and five nights of nine hours, separated by a washout week."),
            (M, "Working memory was assessed each morning with a visual n-back task, and sleep was verified by wrist actigraphy."),
            (R, "Accuracy on the hardest n-back condition fell by eight percentage points after restriction, while reaction times changed little."),
            (R, "Performance had not fully recovered after two nights of unrestricted sleep."),
            (L, "The laboratory schedule may not reflect the irregular sleep timing that adolescents show at home."),
            (C, "Even a modest, short-lived sleep deficit measurably weakens working memory in adolescents."),
        ],
    },
    {
        "title": "Cover crops and soil organic carbon in semi-arid wheat systems",
        "authors": ["Abdul Rahman", "Julia Weber", "Thandiwe Mokoena"],
        "isbn": "978-1-9876-0008",
        "good": "Yes",
        "sentences": [
            (B, "Cover crops are promoted as a way to build soil carbon, but in dry regions they compete with the following cash crop for water."),
            (O, "We assessed the trade-off between carbon gain and wheat yield over eight years of a cover-crop rotation."),
            (M, "A replicated field experiment compared fallow, a legume cover crop and a mixed-species cover crop, and topsoil carbon was sampled every second year."),
            (R, "Soil organic carbon in the upper 30 cm rose by about 0.3 tonnes per hectare per year under the mixed cover crop."),
            (R, "Wheat yields fell by 9 % on average after cover crops, with the largest losses in the driest years."),
            (L, "Deeper soil layers were not sampled, so the net change in whole-profile carbon remains uncertain."),
            (C, "In semi-arid systems, cover crops can build carbon but may require flexible termination dates to protect yields in dry seasons."),
        ],
    },
    {
        "title": "Locating leaks in water distribution networks with low-cost acoustic loggers",
        "authors": ["Marco Bianchi", "Aisha Bello"],
        "isbn": "978-1-9876-0009",
        "good": "Yes",
        "sentences": [
            (B, "Utilities lose a large share of treated water through leaks that remain hidden because they never reach the surface."),
            (O, "The aim of this work was to locate such leaks using inexpensive acoustic loggers mounted on valves and hydrants."),
            (M, "Fifty loggers recorded pipe noise every night for three months in a district with roughly 40 km of mains."),
            (M, "Leak positions were estimated by cross-correlating the signals of neighbouring loggers and then confirmed by excavation."),
            (R, "Twenty-three of the 27 flagged positions corresponded to real leaks, and the median location error was 1.8 m."),
            (L, "Plastic pipes transmit sound poorly, and detection rates on those sections were clearly lower."),
            (C, "Low-cost acoustic monitoring can make routine leak localisation affordable for small utilities."),
        ],
    },
    {
        "title": "Infrared variability of young stellar objects in a nearby star-forming cloud",
        "authors": ["Yara Haddad", "Oliver Grant", "Nadia Kowalski"],
        "isbn": "978-1-9876-0010",
        "good": "Yes",
        "sentences": [
            (B, "Young stars grow by accreting gas from their surrounding discs, and irregular accretion makes them vary in brightness."),
            (O, "We characterised the infrared variability of young stellar objects in one star-forming cloud over nearly a decade."),
            (M, "Light curves for about 900 sources were assembled from repeated survey observations in two mid-infrared bands."),
            (M, "Sources were grouped by the shape and amplitude of their light curves and by their evolutionary class."),
            (R, "Roughly one third of the embedded protostars varied by more than half a magnitude, compared with a few percent of more evolved stars."),
            (R, "A handful of sources showed slow outbursts lasting several years, consistent with episodes of strongly enhanced accretion."),
            (L, "The sparse cadence of the survey cannot resolve variability on timescales shorter than a few days."),
            (C, "Episodic accretion appears to be common in the earliest stages of star formation."),
        ],
    },
    {
        "title": "A new approach to greener catalysis",
        "authors": ["P. Smith"],
        "isbn": "978-1-9876-0011",
        "good": "No",
        "sentences": [
            (B, "Catalysis is very important for the chemical industry and for society."),
            (B, "Many catalysts have problems that researchers have tried to solve for a long time."),
            (O, "In this paper we present a new approach that could make catalysis greener."),
            (M, "Several materials were prepared and tested under various conditions."),
            (C, "The approach seems promising and may have many applications in the future."),
        ],
    },
    {
        "title": "Online learning and student outcomes: some observations",
        "authors": ["Laura Jenkins", "Tom Hale"],
        "isbn": "978-1-9876-0012",
        "good": "No",
        "sentences": [
            (B, "Online learning has become more common in recent years, especially in higher education."),
            (B, "There are different opinions about whether it is as good as learning in the classroom."),
            (O, "This paper looks at some aspects of online learning and its effects on students."),
            (M, "We talked to students and teachers and looked at information from our university."),
            (L, "It is hard to draw firm conclusions because many factors are involved."),
            (C, "Online learning has both advantages and disadvantages, and more research is needed."),
        ],
    },
]


# -- text and truth ---------------------------------------------------------------------------
def abstract_text(sentences: list[tuple[str, str]]) -> tuple[str, list[dict]]:
    """The abstract's text and one entity per sentence (code-point offsets, end exclusive)."""
    entities, position = [], 0
    for label, sentence in sentences:
        entities.append({"label": label, "startOffset": position, "endOffset": position + len(sentence)})
        position += len(sentence) + 1
    return " ".join(sentence for _, sentence in sentences), entities


# -- the first page ---------------------------------------------------------------------------
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / name), size, layout_engine=ImageFont.Layout.BASIC)


def wrap(draw: ImageDraw.ImageDraw, text: str, face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, current = [], ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and draw.textlength(candidate, font=face) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def first_page(title: str, authors: list[str], isbn: str, text: str) -> bytes:
    image = Image.new("L", (PAGE_WIDTH, PAGE_HEIGHT), 255)
    draw = ImageDraw.Draw(image)
    width = PAGE_WIDTH - 2 * MARGIN
    y = 90
    title_font = font("DejaVuSerif-Bold.ttf", 30)
    for line in wrap(draw, title, title_font, width):
        draw.text((PAGE_WIDTH // 2, y), line, font=title_font, fill=0, anchor="ma")
        y += 40
    y += 12
    author_font = font("DejaVuSerif-Italic.ttf", 17)
    for line in wrap(draw, ", ".join(authors), author_font, width):
        draw.text((PAGE_WIDTH // 2, y), line, font=author_font, fill=40, anchor="ma")
        y += 24
    draw.text((PAGE_WIDTH // 2, y + 4), f"ISBN {isbn}", font=font("DejaVuSans.ttf", 12), fill=110, anchor="ma")
    y += 50
    heading = font("DejaVuSans-Bold.ttf", 18)
    draw.text((MARGIN, y), "Abstract", font=heading, fill=0)
    y += 32
    body_font = font("DejaVuSerif.ttf", 15)
    for line in wrap(draw, text, body_font, width):
        draw.text((MARGIN, y), line, font=body_font, fill=20)
        y += 22
    y += 28
    draw.line([MARGIN, y, PAGE_WIDTH - MARGIN, y], fill=170, width=1)
    y += 22
    draw.text((MARGIN, y), "1  Introduction", font=heading, fill=0)
    y += 36
    # The body's first paragraph: grey placeholder lines down to the bottom margin.
    line_number = 0
    while y < PAGE_HEIGHT - MARGIN:
        indent = 30 if line_number == 0 else 0
        end = PAGE_WIDTH - MARGIN - (((line_number * 37) % 5) * 18 if line_number % 6 != 5 else 260)
        draw.rectangle([MARGIN + indent, y, end, y + 8], fill=205)
        y += 22
        line_number += 1
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=False)
    return buffer.getvalue()


def deployed_truth_key(line: dict, index: int) -> str:
    """The truth key of a manifest line as deployed (the placeholder is an s3:// prefix by then)."""
    return truth_key({key: value.replace(PLACEHOLDER, "s3://deployed") if isinstance(value, str) else value
                      for key, value in line.items()}, index)


# -- the data set -----------------------------------------------------------------------------
def generate(out: Path) -> dict[str, dict]:
    for folder in ("abstracts", "pages"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    truth, manifest = {}, []
    for number, abstract in enumerate(ABSTRACTS, start=1):
        name = f"abstract-{number:02d}"
        text, entities = abstract_text(abstract["sentences"])
        isbn = isbn13(abstract["isbn"])
        (out / "abstracts" / f"{name}.txt").write_bytes(text.encode("utf-8"))
        (out / "pages" / f"{name}.jpg").write_bytes(first_page(abstract["title"], abstract["authors"], isbn, text))
        line = {
            SOURCE_REF: f"{PLACEHOLDER}/pages/{name}.jpg",
            TEXT_FILE_KEY: f"{PLACEHOLDER}/abstracts/{name}.txt",
            "metadata": {"Title": abstract["title"], "Author": ", ".join(abstract["authors"]), "ISBN": isbn},
        }
        manifest.append(json.dumps(line, ensure_ascii=False))
        truth[deployed_truth_key(line, len(manifest) - 1)] = {SECTIONS.name: entities, JUDGEMENT.name: abstract["good"]}
    (out / "manifest.jsonl").write_bytes(("\n".join(manifest) + "\n").encode("utf-8"))
    (out / "truth.json").write_bytes((json.dumps(truth, indent=2) + "\n").encode("utf-8"))
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    truth = generate(args.out)
    print(f"wrote {len(truth)} abstracts to {args.out}")


if __name__ == "__main__":
    main()
