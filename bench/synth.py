"""Seeded generator of UK-shaped synthetic children and perturbed agency feeds.

Nothing here is real data. Names follow the shape of England's frequencies
(ONS baby-name and surname rankings, rounded and mixed by background: White
British/Irish, South Asian, Polish, Nigerian/West African, Romanian, Somali,
Chinese...), households share a surname, postcode and address, and hold
siblings and about one twin birth in thirty. Identifiers are synthetic but
valid: NHS numbers pass their modulus-11 check, UPNs their check letter,
postcodes :func:`cpbridge.identifiers.normalise_postcode`.

:func:`households` and :func:`children` stream (a million records need no list);
:func:`population` builds the base records and a feed for the quality benchmark:
for a sample of children, the identity another agency would send, with the
truth (the child's id, or None for a child not yet in the directory) and the
error applied.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Iterator

from cpbridge.codes import Gender, IdentifierScheme
from cpbridge.directory.matching import nicknames
from cpbridge.directory.matching.scoring import CandidateRecord
from cpbridge.identifiers import nhs_check_digit, normalise_postcode, upn_check_letter
from cpbridge.model import Address, ChildIdentity, Identifier

#: Ages are measured from this fixed day so runs are reproducible.
REFERENCE_DATE = date(2024, 9, 1)


def _ranked(text: str) -> tuple[list[str], list[float]]:
    """Names listed most common first; Zipf-like weights 1/(rank+3)."""
    names = text.split()
    return names, [1.0 / (i + 3) for i in range(len(names))]


# Given names by background and sex, most common first.
_GIVEN = {
    "british": {
        Gender.male: _ranked(
            "Oliver George Noah Arthur Harry Leo Oscar Archie Henry Theodore Freddie Jack Charlie Theo Alfie "
            "Jacob Thomas Finley Arlo William Lucas Roman Tommy Isaac Teddy Alexander Luca Edward James Joshua "
            "Albie Elijah Max Mason Reuben Samuel Sonny Harrison Logan Hunter Ethan Joseph Louie Jude Dylan Rory "
            "Daniel Benjamin Jaxon Toby Frankie Harvey Adam Riley Ronnie Jenson Finn Elliot Sebastian Ezra "
            "Gabriel Michael Jayden Albert Zachary Stanley Ryan Hugo Caleb Ralph Nathan Dexter Blake Jasper "
            "Kai Callum Connor Liam Kian Owen Ollie Matthew Jamie Tyler Luke Lewis Kyle Bobby Aaron Declan "
            "Ciaran Rhys Cameron Jake Robert Christopher Andrew David Ben Felix Louis Arthur Jesse Bailey"
        ),
        Gender.female: _ranked(
            "Olivia Amelia Isla Ava Ivy Freya Lily Florence Mia Willow Rosie Sophia Isabella Grace Daisy "
            "Sienna Poppy Elsie Emily Ella Evelyn Phoebe Sofia Evie Charlotte Harper Millie Matilda Maya "
            "Sophie Alice Emilia Isabelle Ruby Luna Maisie Aria Penelope Mila Bonnie Eva Hallie Eliza Ada "
            "Violet Esme Arabella Imogen Jessica Delilah Thea Layla Chloe Georgia Harriet Lucy Scarlett "
            "Erin Holly Molly Ellie Megan Hannah Lola Darcie Robyn Niamh Orla Aoife Katie Lacey Amber Leah "
            "Zara Abigail Bethany Lauren Jasmine Paige Caitlin Eleanor Rebecca Summer Heidi Skye Nancy Edith "
            "Beatrice Martha Frankie Margot Elizabeth Katherine Samantha Olive Iris Aurora Emma Madison"
        ),
    },
    "south_asian": {
        Gender.male: _ranked(
            "Muhammad Mohammed Mohammad Ibrahim Yusuf Ayaan Zayn Adam Musa Ali Hamza Umar Aryan Arjun "
            "Rayyan Yahya Abdullah Ismail Zakariya Harris Ahmed Hassan Bilal Imran Aarav Arav Vihaan Krish "
            "Rohan Dev Gurpreet Harjot Jaskaran Sahil Kabir Reyansh Ishaan Aiden Daniyal Hussain Haroon Idris "
            "Usman Faisal Tariq Rehan Shayan Amir Omar Sami Zaid"
        ),
        Gender.female: _ranked(
            "Maryam Aisha Fatima Zainab Hafsa Amira Inaya Ayesha Khadija Eshal Hana Aliza Anaya Aleena "
            "Zara Safa Noor Iqra Sana Mahnoor Amelia Aanya Diya Priya Anika Saanvi Simran Jasleen Harleen "
            "Navneet Kiran Zoya Alisha Sumaya Ruqayyah Amina Hiba Laiba Mariam Yasmin Jannat Areeba Hadiya"
        ),
    },
    "polish": {
        Gender.male: _ranked("Jakub Antoni Jan Szymon Franciszek Filip Aleksander Mikolaj Wojciech Kacper Adam Michal Marcel Stanislaw Wiktor Piotr Igor Leon Nikodem Mateusz Oliwer Tymon Dawid Bartosz Krzysztof"),
        Gender.female: _ranked("Zuzanna Julia Zofia Hanna Maja Lena Alicja Maria Amelia Oliwia Pola Wiktoria Natalia Laura Emilia Aleksandra Antonina Nina Gabriela Weronika Kinga Agnieszka Katarzyna Magdalena"),
    },
    "west_african": {
        Gender.male: _ranked("David Daniel Emmanuel Joshua Samuel Oluwaseun Oluwatobi Chukwuemeka Tobi Ayomide Kehinde Taiwo Babatunde Adebayo Obinna Chinedu Kwame Kofi Femi Tunde Jayden Ethan Nathan Favour Divine"),
        Gender.female: _ranked("Grace Favour Precious Blessing Esther Chiamaka Adaeze Ngozi Oluwaseyi Temitope Ayomide Kehinde Taiwo Folasade Abimbola Amara Chidinma Adaora Zara Deborah Jasmine Nia Imani Ama Efua"),
    },
    "romanian": {
        Gender.male: _ranked("Andrei Alexandru David Luca Stefan Ionut Mihai Gabriel Darius Matei Rares Vlad Cristian Bogdan Adrian"),
        Gender.female: _ranked("Maria Ioana Elena Andreea Sofia Alexandra Ana Bianca Daria Gabriela Mihaela Teodora Irina Alesia Ilinca"),
    },
    "somali": {
        Gender.male: _ranked("Mohamed Abdirahman Abdullahi Ahmed Hassan Yusuf Ibrahim Abdirizak Omar Mustafa Ismail Bilal Hamza"),
        Gender.female: _ranked("Hodan Fartun Ayan Hibaq Sagal Amina Fadumo Sumaya Ikran Khadra Nasra Sahra Ilhan"),
    },
    "chinese": {
        Gender.male: _ranked("Jayden Ethan Ryan Lucas Yi Hao Jun Wei Kai Ming Zhi Tian Leo"),
        Gender.female: _ranked("Chloe Emily Grace Mei Lin Xin Yan Jia Hui Ying Qing Sophia"),
    },
}

_FAMILY = {
    "british": _ranked(
        "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson "
        "Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin "
        "Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson "
        "Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell "
        "Shaw Murphy Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson "
        "Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer Holmes "
        "Mills Barnes Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray Dixon Harvey Graham "
        "Pearson Ahmed Fletcher Walsh Kaur Gibson Howard Andrews Stewart Elliott Reynolds Saunders Payne Fox "
        "Ford Pearce Day Brooks West Lawrence Cole Atkinson Bradley Spencer Gill Dawson Ball Burton OBrien "
        "Watts Rose Booth Perry Ryan Grant Wells Armstrong Francis Rees Hayes Hart Hudson Newman Barrett Webster "
        "Hunter Gregory Carr Lowe Page Marsh Riley Dunn Woods Parsons Berry Stone Reid Holland Hawkins Harding "
        "Porter Robertson Newton Oliver Reed Kennedy Williamson Bird Gardner Shah Dean Lane Cooke Bates Henderson "
        "Parry Burgess Bishop Walton Burns Nicholson Shepherd Ross Cross Long Freeman Warren Nicholls Hamilton "
        "Byrne Sutton McDonald Yates Hodgson Robson Curtis Hopkins ONeill Kemp Doyle Lambert Macdonald Connolly "
        "Fitzgerald McCarthy Donnelly Gallagher Quinn McLaughlin Brennan Sullivan"
    ),
    "south_asian": _ranked(
        "Khan Ahmed Ali Hussain Begum Patel Singh Kaur Shah Akhtar Iqbal Mahmood Rahman Islam Bibi Uddin "
        "Miah Hossain Chowdhury Rashid Sharma Kumar Mistry Parmar Gill Sandhu Sidhu Dhillon Bains Johal "
        "Malik Butt Mirza Qureshi Sheikh Javed Aslam Hanif Rehman Raza Siddiqui Anwar Bashir Choudhury Desai"
    ),
    "polish": _ranked(
        "Nowak Kowalski Wisniewski Wojcik Kowalczyk Kaminski Lewandowski Zielinski Szymanski Wozniak "
        "Dabrowski Kozlowski Jankowski Mazur Kwiatkowski Krawczyk Piotrowski Grabowski Nowakowski Pawlowski "
        "Michalski Adamczyk Dudek Zajac Wieczorek Jablonski Krol Majewski Olszewski Jaworski"
    ),
    "west_african": _ranked(
        "Okafor Adeyemi Okonkwo Mensah Adebayo Eze Okoro Nwosu Ogunleye Balogun Oyelaran Afolabi Boateng "
        "Asante Owusu Osei Adeleke Olawale Chukwu Nwachukwu Obi Ibrahim Bello Danso Appiah Ogunbiyi "
        "Akinola Ayodele Babatunde Oduya Onyeka Uche Ekwueme Fashola"
    ),
    "romanian": _ranked("Popescu Ionescu Popa Pop Radu Dumitru Stan Stoica Gheorghe Matei Ciobanu Rusu Munteanu Constantin Marin Tudor Florea Lupu Dinu Moldovan"),
    "somali": _ranked("Mohamed Ahmed Hassan Ali Abdi Farah Yusuf Warsame Omar Jama Osman Ibrahim Abdullahi Aden Hirsi Duale Egal"),
    "chinese": _ranked("Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Lin Guo He Gao Luo Cheng Liang Wong Chan Cheung Lau Ng"),
}

# Background shares among children in England (rounded, synthetic).
_BACKGROUNDS = (["british", "south_asian", "polish", "west_african", "romanian", "somali", "chinese"], [0.74, 0.12, 0.04, 0.04, 0.025, 0.015, 0.015])

# A long tail of British surnames from place-name parts, so common names are not over-represented.
_TAIL_HEADS = "Ash Brad Hol Whit Stan Cal Wood Black Hart Marsh Fair Brook Wins Thorn Green Lang Har Cart Mil Craw Ather Bur Cam Ded Ed Fen Gold Hay Ing Kirk Lind Net Ox Pen Rad Sal Tad Ul Wal Yar".split()
_TAIL_TAILS = "ley ton worth field ham ford by well wood son man er ridge combe stead hurst croft shaw bury more dale wick thorpe den low".split()

_STREETS = "High Church Station Park Victoria Green Manor Mill Queens Kings New School Grange North South West Albert Chapel Oak Elm Ash Beech Willow Cedar Holly Meadow Orchard Springfield Richmond Windsor York Highfield Stanley Brook Hill Cross Bridge Castle Market Clarence Alexandra George Princess Moor Westfield Fairfield".split()
_SUFFIXES = "Road Street Lane Avenue Close Drive Way Crescent Grove Gardens Terrace Place Court Walk Rise".split()
_AREAS = "B BD BS BB BL BN BR CB CF CH CM CO CR CT CV CW DA DE DH DL DN DT DY E EN EX GL GU HA HD HP HR HU HX IG IP KT L LA LE LN LS LU M ME MK N NE NG NN NR OL OX PE PL PO PR RG RM S SE SG SK SL SM SN SO SP SR SS ST SW TA TF TN TQ TS TW UB W WA WD WF WN WR WS WV YO".split()
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@dataclass
class SynthChild:
    """One synthetic child as the directory holds it."""

    child_id: str
    household: int
    given_names: str
    family_name: str
    gender: Gender
    date_of_birth: date
    postcode: str
    address_line: str
    nhs_number: str
    upn: str | None
    background: str
    twin_id: str | None = None
    sibling_ids: list[str] = field(default_factory=list)

    def candidate(self) -> CandidateRecord:
        ids = [(IdentifierScheme.nhs_number.value, self.nhs_number)]
        if self.upn:
            ids.append((IdentifierScheme.upn.value, self.upn))
        return CandidateRecord(
            child_id=self.child_id,
            given_names=self.given_names,
            family_name=self.family_name,
            date_of_birth=self.date_of_birth,
            gender=self.gender,
            postcode=self.postcode,
            address_line=self.address_line,
            identifiers=tuple(ids),
        )

    def identity(self) -> ChildIdentity:
        ids = [Identifier(scheme=IdentifierScheme.nhs_number, value=self.nhs_number)]
        if self.upn:
            ids.append(Identifier(scheme=IdentifierScheme.upn, value=self.upn))
        return ChildIdentity(
            given_names=self.given_names,
            family_name=self.family_name,
            date_of_birth=self.date_of_birth,
            gender=self.gender,
            address=Address(lines=[self.address_line], postcode=self.postcode),
            identifiers=ids,
        )


class _Numbers:
    """Unique synthetic NHS numbers and UPNs: a bijection of a counter, skipping bad check digits."""

    _A = 387_420_489  # 3**18: coprime with 10**9, so k -> (A*k + B) mod 10**9 is a permutation

    def __init__(self, seed: int) -> None:
        self._b = (seed * 7_919 + 12_345) % 10**9
        self._nhs = 0
        self._upn = 0

    def _perm(self, k: int) -> str:
        return f"{(self._A * k + self._b) % 10**9:09d}"

    def nhs(self) -> str:
        while True:
            body = self._perm(self._nhs)
            self._nhs += 1
            if body[0] == "0":
                continue  # real NHS numbers start 4-9; keep it looking like one
            check = nhs_check_digit(body)
            if check is not None:
                return f"{body}{check}"

    def upn(self, la_code: int) -> str:
        body = f"{la_code:03d}{self._perm(self._upn)}"
        self._upn += 1
        return f"{upn_check_letter(body)}{body}"


def _pick(rng: random.Random, pool: tuple[list[str], list[float]]) -> str:
    return rng.choices(pool[0], pool[1])[0]


def _family_name(rng: random.Random, background: str) -> str:
    if background == "british" and rng.random() < 0.35:
        return rng.choice(_TAIL_HEADS) + rng.choice(_TAIL_TAILS)
    name = _pick(rng, _FAMILY[background])
    if name in ("OBrien", "ONeill"):
        name = f"O'{name[1:]}"
    return name


def _given(rng: random.Random, background: str, gender: Gender, avoid: set[str] = frozenset()) -> str:
    for _ in range(50):
        bg = background if rng.random() < 0.8 else "british"
        name = _pick(rng, _GIVEN[bg][gender])
        if name not in avoid and not any(nicknames.are_nicknames(name, a) for a in avoid):
            if rng.random() < 0.12:  # a middle name
                middle = _pick(rng, _GIVEN["british"][gender])
                if middle != name:
                    return f"{name} {middle}"
            return name
    raise RuntimeError("could not find a distinct given name")  # pragma: no cover


def _postcode(rng: random.Random) -> str:
    outward = f"{rng.choice(_AREAS)}{rng.randint(1, 28)}"
    inward = f"{rng.randint(0, 9)}{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"
    return normalise_postcode(f"{outward}{inward}")


def _address(rng: random.Random) -> str:
    line = f"{rng.randint(1, 180)} {rng.choice(_STREETS)} {rng.choice(_SUFFIXES)}"
    if rng.random() < 0.12:
        line = f"Flat {rng.randint(1, 30)}, {line}"
    return line


def _dob(rng: random.Random, min_days: int = 0, max_days: int = 18 * 365) -> date:
    return REFERENCE_DATE - timedelta(days=rng.randint(min_days, max_days))


def households(seed: int) -> Iterator[list[SynthChild]]:
    """An endless, reproducible stream of households (lists of children)."""
    rng = random.Random(seed)
    numbers = _Numbers(seed)
    backgrounds, shares = _BACKGROUNDS
    serial = 0
    household = 0
    while True:
        household += 1
        background = rng.choices(backgrounds, shares)[0]
        family = _family_name(rng, background)
        if rng.random() < 0.06:
            family = f"{family}-{_family_name(rng, background)}"
        postcode, address = _postcode(rng), _address(rng)
        la_code = rng.randint(201, 938)
        count = rng.choices([1, 2, 3, 4, 5], [0.42, 0.36, 0.15, 0.05, 0.02])[0]
        base = _dob(rng)
        kids: list[SynthChild] = []
        used: set[str] = set()

        def make(dob: date, gender: Gender) -> SynthChild:
            nonlocal serial
            serial += 1
            given = _given(rng, background, gender, used)
            used.add(given.split()[0])
            age = (REFERENCE_DATE - dob).days / 365.25
            return SynthChild(
                child_id=f"C{seed:03d}{serial:09d}",
                household=household,
                given_names=given,
                family_name=family,
                gender=gender,
                date_of_birth=dob,
                postcode=postcode,
                address_line=address,
                nhs_number=numbers.nhs(),
                upn=numbers.upn(la_code) if age >= 4 and rng.random() < 0.95 else None,
                background=background,
            )

        while len(kids) < count:
            dob = base - timedelta(days=rng.randint(300, 1500)) * len(kids) if kids else base
            if dob < REFERENCE_DATE - timedelta(days=18 * 365):
                break
            gender = rng.choice((Gender.male, Gender.female))
            first = make(dob, gender)
            kids.append(first)
            if rng.random() < 0.033:  # a twin birth
                twin_gender = gender if rng.random() < 0.65 else rng.choice((Gender.male, Gender.female))
                second = make(dob, twin_gender)
                first.twin_id, second.twin_id = second.child_id, first.child_id
                kids.append(second)
        for kid in kids:
            kid.sibling_ids = [k.child_id for k in kids if k is not kid and k.child_id != kid.twin_id]
        yield kids


def children(n: int, seed: int) -> Iterator[SynthChild]:
    """The first ``n`` children of the seeded stream."""
    made = 0
    for kids in households(seed):
        for kid in kids:
            yield kid
            made += 1
            if made >= n:
                return


# --- feeds -----------------------------------------------------------------------------------


@dataclass
class FeedItem:
    """An identity as another agency sends it, with the truth for scoring the matcher."""

    identity: ChildIdentity
    true_id: str | None
    error: str


#: Error types for children already in the directory, with their shares.
MATCH_ERRORS: dict[str, float] = {
    "exact": 0.22,
    "typo_given": 0.07,
    "typo_family": 0.07,
    "nickname": 0.08,
    "dob_swap": 0.04,
    "dob_digit": 0.04,
    "dob_year": 0.02,
    "moved": 0.10,
    "surname_variant": 0.05,
    "given_family_swap": 0.03,
    "baby_placeholder": 0.03,
    "missing_nhs": 0.06,
    "middle_name": 0.03,
    "formatting": 0.04,
    "gender_unknown": 0.02,
    "two_errors": 0.10,
}
_SINGLE = [e for e in MATCH_ERRORS if e not in ("exact", "two_errors", "missing_nhs", "baby_placeholder")]


def _typo(rng: random.Random, word: str) -> str:
    letters = list(word)
    positions = [i for i, ch in enumerate(letters) if ch.isalpha()]
    if len(positions) < 3:
        return word + rng.choice("aeiy")
    i = rng.choice(positions[1:])  # the first letter is the one people get right
    kind = rng.choice(("sub", "swap", "del", "ins"))
    if kind == "sub":
        letters[i] = rng.choice(string.ascii_lowercase)
    elif kind == "swap" and i + 1 < len(letters) and letters[i + 1].isalpha():
        letters[i], letters[i + 1] = letters[i + 1], letters[i]
    elif kind == "del":
        del letters[i]
    else:
        letters.insert(i, rng.choice(string.ascii_lowercase))
    out = "".join(letters)
    return out if out != word else word + "e"


def _nickname(rng: random.Random, given: str) -> str | None:
    first, *rest = given.split()
    options = sorted(n for n in nicknames.variants(first) if len(n) > 1)
    if not options:
        return None
    return " ".join([rng.choice(options).title(), *rest])


def _other_dob(rng: random.Random, dob: date, kind: str) -> date:
    if kind == "dob_swap" and dob.day <= 12 and dob.day != dob.month:
        return dob.replace(month=dob.day, day=dob.month)
    if kind == "dob_year":
        try:
            return dob.replace(year=dob.year + rng.choice((-1, 1)))
        except ValueError:
            pass
    text = dob.strftime("%Y%m%d")
    for _ in range(100):
        i = rng.choice((2, 3, 4, 5, 6, 7, 7, 7))
        cand = text[:i] + rng.choice([d for d in "0123456789" if d != text[i]]) + text[i + 1 :]
        try:
            out = date(int(cand[:4]), int(cand[4:6]), int(cand[6:]))
        except ValueError:
            continue
        if out <= REFERENCE_DATE:
            return out
    return dob + timedelta(days=1)


def perturb(rng: random.Random, child: SynthChild, error: str) -> ChildIdentity:
    """The identity ``child`` has in another agency's records, with ``error`` applied."""
    given, family, dob, gender = child.given_names, child.family_name, child.date_of_birth, child.gender
    postcode, address = child.postcode, child.address_line
    nhs = child.nhs_number if rng.random() < 0.6 else None
    upn = child.upn if child.upn and rng.random() < 0.35 else None
    aliases = []
    kinds = [rng.choice(_SINGLE), rng.choice(_SINGLE)] if error == "two_errors" else [error]
    for kind in kinds:
        if kind == "typo_given":
            given = _typo(rng, given)
        elif kind == "typo_family":
            family = _typo(rng, family)
        elif kind == "nickname":
            given = _nickname(rng, given) or _typo(rng, given)
        elif kind in ("dob_swap", "dob_digit", "dob_year"):
            dob = _other_dob(rng, dob, kind)
        elif kind == "moved":
            postcode, address = _postcode(rng), _address(rng)
        elif kind == "surname_variant":
            if "-" in family:
                family = rng.choice(family.split("-")) if rng.random() < 0.7 else family.replace("-", " ")
            else:
                family = f"{family}-{_family_name(rng, child.background)}"
        elif kind == "given_family_swap":
            given, family = family, given.split()[0]
        elif kind == "middle_name":
            parts = given.split()
            given = parts[0] if len(parts) > 1 else f"{given} {_pick(rng, _GIVEN['british'][gender if gender is not Gender.unknown else Gender.female])}"
        elif kind == "formatting":
            given, family = given.upper(), family.lower().replace("'", "")
            address = address.upper().replace(",", "")
        elif kind == "gender_unknown":
            gender = Gender.unknown
    if error == "missing_nhs":
        nhs = upn = None
    if error == "baby_placeholder":
        given = rng.choice(("Baby", "Baby Boy" if gender is Gender.male else "Baby Girl", "BB", "Twin A", "Infant"))
        nhs = child.nhs_number if rng.random() < 0.5 else None
    ids = []
    if nhs:
        ids.append(Identifier(scheme=IdentifierScheme.nhs_number, value=nhs))
    if upn:
        ids.append(Identifier(scheme=IdentifierScheme.upn, value=upn))
    given = given[:35]
    return ChildIdentity(
        given_names=given,
        family_name=family[:35],
        aliases=aliases,
        date_of_birth=dob,
        gender=gender,
        address=Address(lines=[address], postcode=postcode),
        identifiers=ids,
    )


@dataclass
class Population:
    base: list[SynthChild]
    feed: list[FeedItem]


def population(n_records: int, n_feed: int, seed: int, new_share: float = 0.1) -> Population:
    """``n_records`` base children and a feed of ``n_feed`` identities (``new_share`` of them new).

    New children are held out of the base while generating; a held-out twin or
    sibling of a child in the base is labelled ``twin_new``/``sibling_new`` (they
    must not match that child). Children under one year may be sent as "Baby".
    """
    rng = random.Random(seed * 1_000_003 + 17)
    base: list[SynthChild] = []
    held_out: list[tuple[SynthChild, str]] = []
    n_new = round(n_feed * new_share)
    hold_rate = min(0.5, 3.0 * n_new / max(n_records, 1))
    in_base: set[str] = set()
    for kids in households(seed):
        if len(base) >= n_records:
            break
        for kid in kids:
            twin_held = kid.twin_id and rng.random() < 0.4
            if (twin_held or rng.random() < hold_rate) and len(held_out) < 3 * n_new:
                held_out.append((kid, ""))
            elif len(base) < n_records:
                base.append(kid)
                in_base.add(kid.child_id)
    news: list[FeedItem] = []
    for kid, _ in held_out:
        if kid.twin_id in in_base:
            label = "twin_new"
        elif any(s in in_base for s in kid.sibling_ids):
            label = "sibling_new"
        else:
            label = "new"
        news.append(FeedItem(perturb(rng, kid, rng.choices(["exact", "moved", "typo_given", "missing_nhs"], [0.6, 0.1, 0.1, 0.2])[0]), None, label))
    rng.shuffle(news)
    # At most 40% of the new children are twins or siblings of a child in the base.
    related = [f for f in news if f.error != "new"]
    plain = [f for f in news if f.error == "new"]
    take = min(len(related), int(0.4 * n_new))
    feed = related[:take] + plain[: n_new - take]
    feed += related[take : take + n_new - len(feed)]
    errors, shares = list(MATCH_ERRORS), list(MATCH_ERRORS.values())
    newborns = [k for k in base if (REFERENCE_DATE - k.date_of_birth).days <= 365]
    for kid in rng.sample(base, min(len(base), n_feed - len(feed))):
        error = rng.choices(errors, shares)[0]
        if error == "baby_placeholder" and (REFERENCE_DATE - kid.date_of_birth).days > 365:
            if not newborns:
                error = "exact"
            else:
                kid = rng.choice(newborns)  # "Baby" is how a maternity unit records a newborn
        feed.append(FeedItem(perturb(rng, kid, error), kid.child_id, error))
    rng.shuffle(feed)
    return Population(base, feed)
