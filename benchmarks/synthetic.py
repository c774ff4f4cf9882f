"""Synthetic pathology reports for benchmarks: about 5 kB each, fictional, deterministic by seed.

Each report mixes the long parts real reports have (clinical history, gross description,
microscopy, lymph nodes, comments, signatures) with a biomarker block in one of several
styles, so the extractor's work per report is like a real one's.
"""

from __future__ import annotations

import random
from pathlib import Path

GROSS = (
    "Received fresh, labelled with the patient's name and 'left breast', is a {w} g oriented "
    "lumpectomy specimen measuring {a} x {b} x {c} cm. The specimen is inked: superior blue, "
    "inferior green, medial yellow, lateral red, anterior orange and posterior black. Serial "
    "sectioning reveals a firm, stellate, tan-white lesion measuring {s} cm, located {d} cm from "
    "the closest (posterior) margin. The remaining tissue is fibrofatty with scattered fibrous "
    "strands. Representative sections are submitted in cassettes A1 through A{n}. "
)
MICRO = (
    "Sections show an infiltrating carcinoma composed of nests, cords and single cells with "
    "moderate nuclear pleomorphism and {m} mitoses per ten high-power fields. Tubule formation "
    "is present in less than ten percent of the tumour. Ductal carcinoma in situ of solid and "
    "cribriform type with intermediate nuclear grade accompanies the invasive tumour. No "
    "lymphovascular invasion is identified. The background breast shows fibrocystic change, "
    "columnar cell change and usual ductal hyperplasia. Calcifications are present in benign ducts. "
)
NODES = (
    "Lymph nodes: {k} sentinel lymph nodes are examined; {p} contain metastatic carcinoma, the "
    "largest deposit {x} mm, without extranodal extension. Cytokeratin immunostains were reviewed. "
)
COMMENT = (
    "Comment: The case was reviewed at the intradepartmental consensus conference. Controls "
    "performed as expected. The results were communicated to the clinical team on the day of "
    "sign-out. Testing was performed on formalin-fixed, paraffin-embedded tissue with cold "
    "ischemia time under one hour and fixation between 6 and 72 hours, as recommended. "
)
BIOMARKERS = (
    "ESTROGEN RECEPTOR: {er_call} ({er}% of tumour cells, {inten} intensity)\n"
    "PROGESTERONE RECEPTOR: {pr_call} ({pr}%)\n"
    "HER2 (IHC, clone 4B5): {score}\n"
    "Ki-67: {ki}%\n",
    "Immunohistochemistry on block A{blk}: the tumour cells are {er_call} for estrogen receptor "
    "in {er}% of nuclei with {inten} staining, and {pr_call} for progesterone receptor in {pr}%. "
    "HER2/neu immunostain score {score}. The proliferation index (Ki-67) is {ki}%.\n",
    "| Marker | Result | Percent |\n| ER | {er_call} | {er}% |\n| PR | {pr_call} | {pr}% |\n"
    "| HER2 IHC | {score} | |\n| Ki-67 | | {ki}% |\n",
)
FISH = (
    "HER2 FISH (dual probe): HER2/CEP17 ratio {ratio}; average HER2 copy number {copies} "
    "signals/cell; {cells} cells counted. Result: {result}.\n"
)


def report_text(rng: random.Random) -> str:
    er = rng.choice([0, 0, 5, 40, 80, 90, 95])
    pr = rng.choice([0, 0, 1, 10, 30, 60, 90])
    score = rng.choice(["0", "1+", "2+", "3+"])
    fields = dict(
        w=rng.randint(20, 90), a=rng.randint(5, 9), b=rng.randint(4, 8), c=rng.randint(2, 5),
        s=round(rng.uniform(0.5, 4.0), 1), d=round(rng.uniform(0.1, 2.0), 1), n=rng.randint(8, 20),
        m=rng.randint(2, 30), k=rng.randint(1, 4), p=rng.randint(0, 1), x=rng.randint(1, 9),
        er=er, pr=pr, er_call="positive" if er else "negative", pr_call="positive" if pr else "negative",
        inten=rng.choice(["weak", "moderate", "strong"]), score=score, ki=rng.randint(3, 70),
        blk=rng.randint(1, 9),
    )
    parts = [
        "SURGICAL PATHOLOGY REPORT (synthetic)\n",
        "CLINICAL HISTORY: Screening-detected mass, BI-RADS 5, on mammography.\n\n",
        "GROSS DESCRIPTION:\n" + GROSS.format(**fields) * 2 + "\n\n",
        "MICROSCOPIC DESCRIPTION:\n" + MICRO.format(**fields) * 2 + "\n\n",
        NODES.format(**fields) + "\n\n",
        "FINAL DIAGNOSIS:\nLeft breast, lumpectomy: invasive ductal carcinoma, Nottingham grade 2, "
        f"{fields['s']} cm.\n\n",
        rng.choice(BIOMARKERS).format(**fields),
    ]
    if score == "2+":
        ratio = round(rng.uniform(1.1, 3.5), 2)
        parts.append(FISH.format(ratio=ratio, copies=round(ratio * 2.1, 1), cells=rng.choice([20, 40, 60]),
                                 result="amplified" if ratio >= 2 else "not amplified"))
    parts.append("\n" + COMMENT * 3)
    parts.append("\nElectronically signed by the attending pathologist (synthetic).\n")
    return "".join(parts)


def make_text_reports(folder: Path, count: int, seed: int = 1) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    for n in range(count):
        path = folder / f"synthetic-{n:06d}.txt"
        path.write_text(report_text(rng), encoding="utf-8")
        paths.append(path)
    return paths


def make_pdf_reports(folder: Path, count: int, seed: int = 1) -> list[Path]:
    """Text-layer PDFs of the same reports (needs fpdf2, a test extra)."""
    from fpdf import FPDF

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    for n in range(count):
        pdf = FPDF()
        pdf.set_auto_page_break(True, margin=15)
        pdf.add_page()
        pdf.set_font("helvetica", size=10)
        for line in report_text(rng).splitlines():
            pdf.multi_cell(0, 5, line or " ", new_x="LMARGIN", new_y="NEXT")
        path = folder / f"synthetic-{n:06d}.pdf"
        pdf.output(str(path))
        paths.append(path)
    return paths
