"""Who the demo café's customers are: names, contacts, birthdays, consent and tags.

A central Budapest café: mostly Hungarians, with Croatian, Ukrainian and Russian neighbours and
English-speaking expats and visitors. Russian and Ukrainian customers often write their name in
Cyrillic. E-mail addresses use the reserved example.com/.net/.org domains so that a campaign sent
from the demo can never reach a real inbox; phone numbers have the real national formats.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

HU, HR, UK, RU, EN = "hu", "hr", "uk", "ru", "en"
NATIONALITIES = [HU, HR, UK, RU, EN]
NATIONALITY_SHARE = [0.55, 0.12, 0.12, 0.08, 0.13]

# (female given names, male given names, family names); Cyrillic lists hold "Cyrillic|Latin".
_NAMES: dict[str, tuple[list[str], list[str], list[str]]] = {
    HU: (
        "Anna Eszter Zsófia Réka Katalin Dóra Petra Lilla Boglárka Fanni Judit Orsolya Nóra "
        "Viktória Krisztina Andrea Ildikó Erzsébet Hanna Luca".split(),
        "Bence Máté Dávid Levente Balázs Gergely Ádám Péter Tamás Zoltán László István Gábor "
        "Attila Csaba Dániel Márton Zsolt Norbert Barnabás".split(),
        "Nagy Kovács Tóth Szabó Horváth Varga Kiss Molnár Németh Farkas Balogh Papp Takács "
        "Juhász Lakatos Mészáros Oláh Simon Rácz Fekete Szilágyi Török Fehér Gál Szűcs Kocsis "
        "Pintér Bognár Vass Fodor".split(),
    ),
    HR: (
        "Ana Ivana Marija Petra Lucija Katarina Mia Ema Sara Martina Maja Nikolina Lana Iva "
        "Dora".split(),
        "Ivan Luka Marko Josip Ante Tomislav Filip Matej Nikola Mateo Karlo Domagoj Hrvoje "
        "Stjepan Dario".split(),
        "Horvat Kovačević Babić Marić Jurić Novak Kovačić Knežević Vuković Marković Petrović "
        "Matić Tomić Pavlović Božić Grgić Blažević Perić Radić Šarić".split(),
    ),
    UK: (
        "Олена|Olena Оксана|Oksana Ірина|Iryna Наталія|Nataliia Юлія|Yuliia "
        "Анастасія|Anastasiia Катерина|Kateryna Тетяна|Tetiana Софія|Sofiia Марія|Mariia "
        "Вікторія|Viktoriia Дарина|Daryna".split(),
        "Олександр|Oleksandr Андрій|Andrii Дмитро|Dmytro Сергій|Serhii Максим|Maksym "
        "Тарас|Taras Богдан|Bohdan Іван|Ivan Микола|Mykola Юрій|Yurii Володимир|Volodymyr "
        "Остап|Ostap".split(),
        "Шевченко|Shevchenko Коваленко|Kovalenko Бондаренко|Bondarenko Ткаченко|Tkachenko "
        "Кравченко|Kravchenko Олійник|Oliinyk Мельник|Melnyk Поліщук|Polishchuk "
        "Савчук|Savchuk Руденко|Rudenko Лисенко|Lysenko Марченко|Marchenko Гнатюк|Hnatiuk "
        "Литвин|Lytvyn".split(),
    ),
    RU: (
        "Анна|Anna Мария|Maria Екатерина|Ekaterina Ольга|Olga Татьяна|Tatiana Елена|Elena "
        "Наталья|Natalia Ксения|Ksenia Дарья|Daria Алина|Alina Полина|Polina "
        "Светлана|Svetlana".split(),
        "Алексей|Aleksei Дмитрий|Dmitrii Михаил|Mikhail Сергей|Sergei Андрей|Andrei "
        "Никита|Nikita Павел|Pavel Иван|Ivan Артём|Artyom Егор|Egor Кирилл|Kirill "
        "Роман|Roman".split(),
        # Male forms; women's names take the -a ending (Иванова, Ivanova).
        "Иванов|Ivanov Смирнов|Smirnov Кузнецов|Kuznetsov Попов|Popov Соколов|Sokolov "
        "Лебедев|Lebedev Козлов|Kozlov Новиков|Novikov Морозов|Morozov Волков|Volkov "
        "Соловьёв|Solovyov Васильев|Vasiliev Зайцев|Zaitsev Павлов|Pavlov Семёнов|Semyonov "
        "Орлов|Orlov".split(),
    ),
    EN: (
        "Emma Olivia Sophie Charlotte Emily Grace Lucy Hannah Chloe Amelia Jessica Rachel".split(),
        "James Oliver Thomas William Jack Harry George Daniel Samuel Matthew Ben Michael".split(),
        "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans "
        "Walker White Roberts Green Hall Wood Clarke Hughes".split(),
    ),
}
_DOMAINS = ["example.com", "example.net", "example.org"]

# Mobile prefixes; expats mostly carry a Hungarian SIM, so their home prefix is the minority.
_HU_MOBILE = ["+3620", "+3630", "+3670"]
_HOME_MOBILE = {
    HR: ["+38591", "+38592", "+38595", "+38598", "+38599"],
    UK: ["+38050", "+38063", "+38067", "+38068", "+38093", "+38097"],
    RU: ["+7916", "+7925", "+7903", "+7985"],
    EN: ["+447700", "+447781", "+447912", "+447456"],
}
_SUBSCRIBER_DIGITS = {"+36": 7, "+385": 7, "+380": 7, "+7": 7, "+44": 6}

TAGS = ["office", "student", "vegan", "remote worker", "family"]
OFFICE, STUDENT, VEGAN, REMOTE, FAMILY = range(len(TAGS))

NOTES = [
    "Allergic to nuts",
    "Lactose intolerant",
    "Likes the window table",
    "Extra hot milk, please",
    "Comes with a dog: bring a water bowl",
    "Orders for the whole office on Fridays",
]


def ascii_slug(text: str) -> str:
    """'Szűcs' -> 'szucs', 'Đurić' -> 'duric': the form people use in e-mail addresses."""
    text = text.replace("đ", "d").replace("Đ", "D")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


@dataclass
class Contacts:
    name: list[str]
    email: list[str]
    phone: list[str]
    language: list[str]
    birthday_ordinal: np.ndarray  # 0 when unknown


class ContactBook:
    """Draws people and keeps phones and e-mails unique across the whole demo load."""

    def __init__(self) -> None:
        self.emails: set[str] = set()
        self.phones: set[str] = set()

    def draw(
        self, rng: np.random.Generator, n: int, *, student: np.ndarray, today_ordinal: int
    ) -> Contacts:
        nationality = rng.choice(len(NATIONALITIES), size=n, p=NATIONALITY_SHARE)
        female = rng.random(n) < 0.52
        given_u, family_u = rng.random(n), rng.random(n)
        cyrillic = rng.random(n) < 0.6
        # Most give both a phone and an e-mail; some only one of them.
        channel = rng.choice(3, size=n, p=[0.75, 0.15, 0.10])  # both, phone only, e-mail only
        pattern, suffix, domain = (
            rng.integers(0, 4, n),
            rng.integers(1, 99, n),
            rng.integers(0, 3, n),
        )
        home_sim = rng.random(n) < 0.3
        prefix_u, number_u = rng.random(n), rng.random(n)
        native_ui = rng.random(n) < 0.85
        has_birthday = rng.random(n) < 0.7
        age = np.where(student, 18 + rng.random(n) * 8, 19 + rng.gamma(3.0, 5.5, n))
        age = np.minimum(age, 82)
        birthday = np.where(has_birthday, today_ordinal - (age * 365.25).astype(np.int64), 0)

        names, emails, phones, languages = [], [], [], []
        for i in range(n):
            nat = NATIONALITIES[nationality[i]]
            females, males, families = _NAMES[nat]
            given_list = females if female[i] else males
            given = given_list[int(given_u[i] * len(given_list))]
            family = families[int(family_u[i] * len(families))]
            if nat == RU and female[i]:
                family = "|".join(
                    part + ("а" if j == 0 else "a") for j, part in enumerate(family.split("|"))
                )
            if "|" in given:
                g_cyr, g_lat = given.split("|")
                f_cyr, f_lat = family.split("|")
                names.append(f"{g_cyr} {f_cyr}" if cyrillic[i] else f"{g_lat} {f_lat}")
            else:
                g_lat, f_lat = given, family
                names.append(f"{given} {family}")
            languages.append(nat if native_ui[i] else EN)
            emails.append(
                self._email(g_lat, f_lat, pattern[i], suffix[i], domain[i])
                if channel[i] != 1
                else ""
            )
            phones.append(
                self._phone(nat, home_sim[i], prefix_u[i], number_u[i]) if channel[i] != 2 else ""
            )
        return Contacts(names, emails, phones, languages, birthday)

    def _email(self, given: str, family: str, pattern: int, suffix: int, domain: int) -> str:
        g, f = ascii_slug(given), ascii_slug(family)
        local = [f"{g}.{f}", f"{g}{f}", f"{g[0]}.{f}", f"{g}.{f}{suffix}"][pattern]
        address = f"{local}@{_DOMAINS[domain]}"
        bump = suffix
        while address in self.emails:
            # A namesake got there first: people then add digits, as they do at real providers.
            bump += 7
            address = f"{g}.{f}{bump}@{_DOMAINS[domain]}"
        self.emails.add(address)
        return address

    def _phone(self, nat: str, home_sim: bool, prefix_u: float, number_u: float) -> str:
        prefixes = _HOME_MOBILE[nat] if nat != HU and home_sim else _HU_MOBILE
        prefix = prefixes[int(prefix_u * len(prefixes))]
        country = next(c for c in _SUBSCRIBER_DIGITS if prefix.startswith(c))
        digits = _SUBSCRIBER_DIGITS[country]
        # Subscriber numbers never start with 0 or 1.
        low, span = 2 * 10 ** (digits - 1), 8 * 10 ** (digits - 1)
        number = low + int(number_u * span)
        phone = f"{prefix}{number}"
        while phone in self.phones:
            # Deterministic probing keeps the result a function of the seed alone.
            number = low + (number - low + 7919) % span
            phone = f"{prefix}{number}"
        self.phones.add(phone)
        return phone
