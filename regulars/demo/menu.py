"""The demo café's menu and how its appeal shifts with the time of day and the season.

Prices are what a specialty café in central Budapest charges in euro. Weights are relative
popularity: a cappuccino sells about three times as often as a chai latte. The tables below
encode what any barista knows: pastries in the morning, sandwiches at lunch, cake in the
afternoon, lemonade and iced latte in summer, tea and soup in winter, cinnamon rolls in December.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    category: str
    cents: int
    popularity: float
    drink: bool = False
    milk: bool = False
    vegan: bool = True


COFFEE, TEA, BAKERY, FOOD, COLD = "Coffee", "Tea", "Bakery", "Food", "Cold drinks"
CATEGORIES = [COFFEE, TEA, BAKERY, FOOD, COLD]

MENU: list[Item] = [
    Item("ESP", "Espresso", COFFEE, 220, 1.0, drink=True),
    Item("AMR", "Americano", COFFEE, 280, 0.9, drink=True),
    Item("CAP", "Cappuccino", COFFEE, 340, 1.6, drink=True, milk=True),
    Item("FLW", "Flat white", COFFEE, 380, 1.2, drink=True, milk=True),
    Item("LAT", "Caffè latte", COFFEE, 370, 1.1, drink=True, milk=True),
    # Never chosen on its own: added beside a milk drink for vegans and oat-milk regulars.
    Item("OAT", "Oat milk", COFFEE, 50, 0.0),
    Item("TEA", "English breakfast tea", TEA, 260, 0.5, drink=True),
    Item("MNT", "Fresh mint tea", TEA, 290, 0.4, drink=True),
    Item("CHA", "Chai latte", TEA, 390, 0.5, drink=True, milk=True),
    Item("CRO", "Croissant", BAKERY, 240, 1.5, vegan=False),
    Item("PAC", "Pain au chocolat", BAKERY, 270, 1.1, vegan=False),
    Item("ALM", "Almond croissant", BAKERY, 320, 0.6, vegan=False),
    Item("CSI", "Cocoa roll (kakaós csiga)", BAKERY, 260, 0.7, vegan=False),
    Item("CIN", "Cinnamon roll", BAKERY, 310, 0.6, vegan=False),
    Item("BAN", "Vegan banana bread", BAKERY, 330, 0.6),
    Item("CHC", "Cheesecake", BAKERY, 450, 0.7, vegan=False),
    Item("CAR", "Carrot cake", BAKERY, 430, 0.5, vegan=False),
    Item("HAM", "Ham & cheese sandwich", FOOD, 590, 1.0, vegan=False),
    Item("CPR", "Caprese sandwich", FOOD, 620, 0.7, vegan=False),
    Item("AVO", "Avocado toast", FOOD, 750, 0.8),
    Item("GRA", "Granola bowl with coconut yoghurt", FOOD, 580, 0.5),
    Item("SOU", "Soup of the day", FOOD, 490, 0.5),
    Item("LEM", "Homemade lemonade", COLD, 420, 0.7, drink=True),
    Item("ICL", "Iced latte", COLD, 420, 0.8, drink=True, milk=True),
    Item("CBR", "Cold brew", COLD, 400, 0.5, drink=True),
    Item("ORJ", "Fresh orange juice", COLD, 390, 0.5, drink=True),
    Item("WAT", "Sparkling water", COLD, 200, 0.4, drink=True),
]

SKU_INDEX = {item.sku: i for i, item in enumerate(MENU)}
OAT = SKU_INDEX["OAT"]
PRICE = np.array([item.cents for item in MENU], dtype=np.int64)
IS_DRINK = np.array([item.drink for item in MENU])
IS_MILK = np.array([item.milk for item in MENU])
IS_VEGAN = np.array([item.vegan for item in MENU])
IS_PASTRY = np.array([item.category == BAKERY for item in MENU])
_CATEGORY = np.array([CATEGORIES.index(item.category) for item in MENU])
_POPULARITY = np.array([item.popularity for item in MENU])

# Seasons and parts of the day index the weight tables.
SPRING_AUTUMN, SUMMER, WINTER, DECEMBER = range(4)
MORNING, LUNCH, AFTERNOON = range(3)
SEASON_OF_MONTH = np.array(
    [0, WINTER, WINTER, SPRING_AUTUMN, SPRING_AUTUMN, SPRING_AUTUMN, SUMMER, SUMMER, SUMMER]
    + [SPRING_AUTUMN, SPRING_AUTUMN, WINTER, DECEMBER]
)  # index 1..12


def daypart_of(minute: np.ndarray) -> np.ndarray:
    """Morning until 11:00, lunch until 15:00, afternoon after."""
    return np.where(minute < 11 * 60, MORNING, np.where(minute < 15 * 60, LUNCH, AFTERNOON))


# What people add beside (or instead of) their drink, by category: Coffee, Tea, Bakery, Food, Cold.
_EXTRA_BY_DAYPART = np.array(
    [
        [0.5, 0.2, 3.0, 0.8, 0.3],  # morning: a croissant with the coffee
        [0.4, 0.2, 0.8, 3.0, 0.6],  # lunch: a sandwich or soup
        [0.5, 0.3, 2.2, 0.6, 0.6],  # afternoon: cake
    ]
)
# The drink people start with, by category.
_DRINK_BY_DAYPART = np.array(
    [
        [1.3, 0.8, 0, 0, 0.5],
        [1.0, 0.8, 0, 0, 1.2],
        [0.9, 1.3, 0, 0, 1.1],
    ]
)
_BY_SEASON = np.array(
    [
        [1.0, 1.0, 1.0, 1.0, 1.0],  # spring and autumn
        [0.85, 0.5, 0.9, 1.0, 3.5],  # summer: cold drinks
        [1.1, 1.5, 1.05, 1.05, 0.3],  # winter: tea
        [1.1, 1.6, 1.3, 1.0, 0.25],  # December: tea and pastry
    ]
)
# Single items that move more than their category.
_ITEM_SEASON = np.ones((4, len(MENU)))
_ITEM_SEASON[SUMMER, SKU_INDEX["SOU"]] = 0.15
_ITEM_SEASON[WINTER, SKU_INDEX["SOU"]] = 1.6
_ITEM_SEASON[DECEMBER, SKU_INDEX["SOU"]] = 1.6
_ITEM_SEASON[SUMMER, SKU_INDEX["LEM"]] = 1.5
_ITEM_SEASON[DECEMBER, SKU_INDEX["CIN"]] = 2.0
_ITEM_SEASON[WINTER, SKU_INDEX["CHA"]] = 1.4
_ITEM_SEASON[DECEMBER, SKU_INDEX["CHA"]] = 1.6


def _table(by_daypart: np.ndarray, only_drinks: bool) -> np.ndarray:
    """Weights [season, daypart, item]."""
    w = (
        _POPULARITY[None, None, :]
        * _BY_SEASON[:, None, _CATEGORY]
        * by_daypart[None, :, _CATEGORY]
        * _ITEM_SEASON[:, None, :]
    )
    if only_drinks:
        w = w * IS_DRINK[None, None, :]
    return w


DRINK_WEIGHTS = _table(_DRINK_BY_DAYPART, only_drinks=True)
EXTRA_WEIGHTS = _table(_EXTRA_BY_DAYPART, only_drinks=False)
# A customer's habitual drink and pastry: what they would pick on an ordinary spring morning.
HABIT_DRINK_WEIGHTS = DRINK_WEIGHTS[SPRING_AUTUMN, MORNING]
HABIT_PASTRY_WEIGHTS = EXTRA_WEIGHTS[SPRING_AUTUMN, AFTERNOON] * IS_PASTRY
