"""The demo catalog's product templates, one per category: made-up brands and model lines,
attributes drawn by a seeded generator, prices that follow the attributes and descriptions
assembled from them (nothing copied from a real catalog)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Attrs = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Template:
    category: str
    brands: tuple[str, ...]
    lines: tuple[str, ...]
    attributes: Callable[[random.Random], Attrs]
    price: Callable[[Attrs, random.Random], float]
    title: Callable[[str, str, Attrs], str]
    description: Callable[[Attrs], str]


def _pick(rng: random.Random, *values: Any) -> Any:
    return rng.choice(values)


# ------------------------------------------------------------------------ laptops
def _laptop(rng: random.Random) -> Attrs:
    kind = _pick(rng, "ultrabook", "gaming", "business", "2-in-1", "budget")
    return {
        "type": kind,
        "screen_in": _pick(rng, 13.3, 14.0, 15.6, 16.0) if kind != "gaming" else 16.0,
        "ram_gb": _pick(rng, 8, 16, 32) if kind != "budget" else 8,
        "storage_gb": _pick(rng, 256, 512, 1024),
        "weight_kg": round(rng.uniform(2.2, 2.8) if kind == "gaming" else rng.uniform(1.0, 1.8), 1),
        "battery_hours": rng.randint(4, 7) if kind == "gaming" else rng.randint(8, 20),
        "dedicated_gpu": kind == "gaming",
        "touchscreen": kind == "2-in-1",
    }


def _laptop_description(a: Attrs) -> str:
    lead = {
        "ultrabook": "A thin and light laptop built to travel, with an aluminium body.",
        "gaming": "A gaming laptop with a dedicated graphics card and a high refresh display "
        "for fast frame rates.",
        "business": "A business laptop with a fingerprint reader, a backlit keyboard and "
        "enterprise security features.",
        "2-in-1": "A convertible 2-in-1 laptop with a touchscreen that folds into a tablet and "
        "works with a stylus pen.",
        "budget": "An affordable everyday laptop for browsing, email, homework and streaming.",
    }[a["type"]]
    return (
        f"{lead} {a['screen_in']}-inch screen, {a['ram_gb']} GB RAM, {a['storage_gb']} GB SSD, "
        f"up to {a['battery_hours']} hours of battery, {a['weight_kg']} kg."
    )


LAPTOPS = Template(
    category="laptops",
    brands=("Corvana", "Lumetra", "Nordtek", "Quillon", "Zephyra"),
    lines=("Air", "Pro", "Vector", "Flex", "Core"),
    attributes=_laptop,
    price=lambda a, rng: (
        299
        + a["ram_gb"] * 18
        + a["storage_gb"] * 0.35
        + (650 if a["dedicated_gpu"] else 0)
        + (250 if a["type"] in ("ultrabook", "business") else 0)
        + rng.uniform(-60, 120)
    ),
    title=lambda brand, line, a: (
        f'{brand} {line} {a["screen_in"]:g}" '
        + {
            "ultrabook": "Ultrabook",
            "gaming": "Gaming Laptop",
            "business": "Business Laptop",
            "2-in-1": "2-in-1 Laptop",
            "budget": "Laptop",
        }[a["type"]]
    ),
    description=_laptop_description,
)


# ------------------------------------------------------------------------ headphones
def _headphones(rng: random.Random) -> Attrs:
    form = _pick(rng, "over-ear", "on-ear", "in-ear")
    anc = rng.random() < 0.5
    sport = form == "in-ear" and rng.random() < 0.5
    return {
        "form": form,
        "wireless": rng.random() < 0.85,
        "noise_cancelling": anc,
        "battery_hours": rng.randint(6, 12) if form == "in-ear" else rng.randint(20, 60),
        "microphone": rng.random() < 0.7,
        "water_resistance": "IPX5" if sport else None,
        "sport": sport,
    }


def _headphones_description(a: Attrs) -> str:
    parts = [
        {
            "over-ear": "Over-ear headphones with plush memory-foam cushions.",
            "on-ear": "Compact on-ear headphones that fold flat.",
            "in-ear": "True wireless in-ear earbuds in a pocket charging case.",
        }[a["form"]]
    ]
    if a["noise_cancelling"]:
        parts.append("Active noise cancellation quiets engines, traffic and office chatter.")
    if a["sport"]:
        parts.append(
            f"Sweat and rain resistant ({a['water_resistance']}) with secure ear fins for "
            "running and the gym."
        )
    parts.append("Bluetooth 5.3." if a["wireless"] else "Wired 3.5 mm cable, no charging needed.")
    if a["microphone"]:
        parts.append("Built-in microphone for calls and meetings.")
    parts.append(f"{a['battery_hours']} hours of playback." if a["wireless"] else "")
    return " ".join(p for p in parts if p)


HEADPHONES = Template(
    category="headphones",
    brands=("Sonora", "Aurelo", "Bassline", "Kestrel Audio", "Halcyon"),
    lines=("Pulse", "Echo", "Nova", "Drift", "Studio"),
    attributes=_headphones,
    price=lambda a, rng: (
        29
        + (170 if a["noise_cancelling"] else 0)
        + (60 if a["form"] == "over-ear" else 0)
        + (30 if a["wireless"] else 0)
        + rng.uniform(-10, 60)
    ),
    title=lambda brand, line, a: (
        f"{brand} {line} "
        + ("Noise-Cancelling " if a["noise_cancelling"] else "")
        + ("Wireless " if a["wireless"] else "")
        + (
            {"over-ear": "Over-Ear Headphones", "on-ear": "On-Ear Headphones"}.get(
                a["form"], "Earbuds"
            )
        )
    ),
    description=_headphones_description,
)


# ------------------------------------------------------------------------ smartphones
def _phone(rng: random.Random) -> Attrs:
    tier = _pick(rng, "flagship", "midrange", "budget", "compact", "rugged")
    return {
        "tier": tier,
        "screen_in": 5.4 if tier == "compact" else round(rng.uniform(6.1, 6.8), 1),
        "storage_gb": _pick(rng, 64, 128) if tier == "budget" else _pick(rng, 128, 256, 512),
        "camera_mp": _pick(rng, 12, 48, 50, 108) if tier != "budget" else 13,
        "battery_mah": rng.randint(5500, 6500) if tier == "rugged" else rng.randint(3200, 5000),
        "five_g": tier != "budget",
        "water_resistance": "IP68" if tier in ("flagship", "rugged") else "IP54",
    }


def _phone_description(a: Attrs) -> str:
    lead = {
        "flagship": "A flagship smartphone with a triple camera that shoots sharp photos at "
        "night and 4K video.",
        "midrange": "A midrange smartphone with a smooth 120 Hz display.",
        "budget": "An affordable smartphone with the essentials: calls, messaging, maps.",
        "compact": "A compact smartphone small enough for one-handed use.",
        "rugged": "A rugged smartphone with a shockproof case, drop tested for building sites "
        "and the outdoors, with a huge battery.",
    }[a["tier"]]
    return (
        f"{lead} {a['screen_in']}-inch display, {a['storage_gb']} GB storage, "
        f"{a['camera_mp']} MP main camera, {a['battery_mah']} mAh battery, "
        f"{a['water_resistance']} water resistance" + (", 5G." if a["five_g"] else ".")
    )


PHONES = Template(
    category="smartphones",
    brands=("Orbis", "Veltra", "Pinecone", "Meridian", "Tallis"),
    lines=("One", "Edge", "Lite", "Max", "Terra"),
    attributes=_phone,
    price=lambda a, rng: (
        {
            "flagship": 899,
            "midrange": 449,
            "budget": 169,
            "compact": 599,
            "rugged": 399,
        }[a["tier"]]
        + a["storage_gb"] * 0.4
        + rng.uniform(-40, 80)
    ),
    title=lambda brand, line, a: (
        f"{brand} {line} {a['storage_gb']}GB "
        + {"rugged": "Rugged Smartphone", "compact": "Compact Smartphone"}.get(
            a["tier"], "Smartphone"
        )
    ),
    description=_phone_description,
)


# ------------------------------------------------------------------------ running shoes
def _shoe(rng: random.Random) -> Attrs:
    terrain = _pick(rng, "road", "trail")
    return {
        "terrain": terrain,
        "cushioning": _pick(rng, "max", "balanced", "light"),
        "drop_mm": _pick(rng, 0, 4, 6, 8, 10),
        "weight_g": rng.randint(190, 320),
        "waterproof": terrain == "trail" and rng.random() < 0.5,
        "width": _pick(rng, "regular", "wide"),
    }


def _shoe_description(a: Attrs) -> str:
    parts = [
        "A road running shoe for pavement and track."
        if a["terrain"] == "road"
        else "A trail running shoe with deep lugs for grip on mud, rock and loose gravel."
    ]
    parts.append(
        {
            "max": "Maximum cushioning protects the joints on long runs and marathons.",
            "balanced": "Balanced cushioning for daily training.",
            "light": "A light, responsive racer for tempo days and race day.",
        }[a["cushioning"]]
    )
    if a["waterproof"]:
        parts.append("Waterproof membrane keeps feet dry in wet conditions.")
    if a["width"] == "wide":
        parts.append("Available in a wide fit with a roomy toe box.")
    parts.append(f"{a['drop_mm']} mm drop, {a['weight_g']} g.")
    return " ".join(parts)


SHOES = Template(
    category="running-shoes",
    brands=("Stridon", "Kairo", "Velox", "Tempo Lab", "Ridgeway"),
    lines=("Glide", "Summit", "Rapid", "Cloudstep", "Trek"),
    attributes=_shoe,
    price=lambda a, rng: (
        79
        + {"max": 60, "balanced": 30, "light": 50}[a["cushioning"]]
        + (25 if a["waterproof"] else 0)
        + rng.uniform(-10, 40)
    ),
    title=lambda brand, line, a: (
        f"{brand} {line} "
        + ("Waterproof " if a["waterproof"] else "")
        + ("Trail Running Shoes" if a["terrain"] == "trail" else "Road Running Shoes")
    ),
    description=_shoe_description,
)


# ------------------------------------------------------------------------ coffee makers
def _coffee(rng: random.Random) -> Attrs:
    kind = _pick(rng, "espresso", "drip", "pod", "cold-brew", "french-press")
    return {
        "type": kind,
        "capacity_cups": {"espresso": 2, "pod": 1, "french-press": 4}.get(kind, rng.randint(8, 12)),
        "built_in_grinder": kind in ("espresso", "drip") and rng.random() < 0.4,
        "milk_frother": kind == "espresso" and rng.random() < 0.7,
        "programmable": kind == "drip" and rng.random() < 0.7,
    }


def _coffee_description(a: Attrs) -> str:
    lead = {
        "espresso": "An espresso machine with a 15-bar pump for rich crema, lattes and "
        "cappuccinos.",
        "drip": "A drip coffee maker that brews a full carafe for the whole family.",
        "pod": "A single-serve pod coffee machine: one cup in under a minute, no cleanup.",
        "cold-brew": "A cold brew coffee maker for smooth, low-acid iced coffee.",
        "french-press": "A glass French press for full-bodied coffee without paper filters.",
    }[a["type"]]
    extras = []
    if a["built_in_grinder"]:
        extras.append("Built-in conical burr grinder for fresh beans.")
    if a["milk_frother"]:
        extras.append("Steam wand and milk frother.")
    if a["programmable"]:
        extras.append("Programmable timer so coffee is ready when you wake up.")
    return " ".join([lead, *extras, f"Makes up to {a['capacity_cups']} cups."])


COFFEE = Template(
    category="coffee-makers",
    brands=("Brewmont", "Crema & Co", "Dunmore", "Ferro", "Kaldi Works"),
    lines=("Barista", "Morning", "Classic", "Duo", "Artisan"),
    attributes=_coffee,
    price=lambda a, rng: (
        {"espresso": 249, "drip": 59, "pod": 79, "cold-brew": 39, "french-press": 25}[a["type"]]
        + (120 if a["built_in_grinder"] else 0)
        + (80 if a["milk_frother"] else 0)
        + rng.uniform(-10, 50)
    ),
    title=lambda brand, line, a: (
        f"{brand} {line} "
        + {
            "espresso": "Espresso Machine",
            "drip": "Drip Coffee Maker",
            "pod": "Single-Serve Pod Coffee Machine",
            "cold-brew": "Cold Brew Coffee Maker",
            "french-press": "French Press",
        }[a["type"]]
    ),
    description=_coffee_description,
)


# ------------------------------------------------------------------------ backpacks
def _backpack(rng: random.Random) -> Attrs:
    kind = _pick(rng, "commuter", "travel", "hiking", "school")
    return {
        "type": kind,
        "capacity_l": {"hiking": rng.randint(28, 55), "travel": rng.randint(35, 45)}.get(
            kind, rng.randint(18, 30)
        ),
        "laptop_sleeve_in": None if kind == "hiking" else _pick(rng, 14, 15.6, 16),
        "waterproof": rng.random() < 0.5,
        "hip_belt": kind == "hiking",
    }


def _backpack_description(a: Attrs) -> str:
    lead = {
        "commuter": "A slim commuter backpack for the office with quick-access pockets.",
        "travel": "A carry-on travel backpack that opens like a suitcase, sized for cabin "
        "luggage limits.",
        "hiking": "A hiking backpack with a ventilated back panel, a padded hip belt and a "
        "hydration bladder sleeve.",
        "school": "A roomy school backpack with pockets for books, pens and a water bottle.",
    }[a["type"]]
    parts = [lead, f"{a['capacity_l']} litres."]
    if a.get("laptop_sleeve_in"):
        parts.append(f"Padded sleeve fits a {a['laptop_sleeve_in']:g}-inch laptop.")
    if a["waterproof"]:
        parts.append("Waterproof fabric and zips.")
    return " ".join(parts)


BACKPACKS = Template(
    category="backpacks",
    brands=("Packwell", "Alder", "Trailborn", "Urbanist", "Fjellrun"),
    lines=("Metro", "Voyager", "Ascent", "Campus", "Nomad"),
    attributes=_backpack,
    price=lambda a, rng: (
        39
        + a["capacity_l"] * 1.5
        + (30 if a["waterproof"] else 0)
        + (40 if a["type"] == "travel" else 0)
        + rng.uniform(-5, 30)
    ),
    title=lambda brand, line, a: (
        f"{brand} {line} {a['capacity_l']}L "
        + ("Waterproof " if a["waterproof"] else "")
        + {
            "commuter": "Commuter Backpack",
            "travel": "Travel Backpack",
            "hiking": "Hiking Backpack",
            "school": "School Backpack",
        }[a["type"]]
    ),
    description=_backpack_description,
)


# ------------------------------------------------------------------------ office chairs
def _chair(rng: random.Random) -> Attrs:
    kind = _pick(rng, "ergonomic", "gaming", "task", "executive")
    return {
        "type": kind,
        "lumbar_support": kind in ("ergonomic", "gaming") or rng.random() < 0.3,
        "adjustable_armrests": kind != "task",
        "mesh_back": kind in ("ergonomic", "task"),
        "headrest": kind in ("gaming", "executive") or rng.random() < 0.3,
        "max_load_kg": _pick(rng, 110, 130, 150, 180),
    }


def _chair_description(a: Attrs) -> str:
    lead = {
        "ergonomic": "An ergonomic office chair designed for long hours at the desk and "
        "sore backs.",
        "gaming": "A racing-style gaming chair with bucket seat and recline.",
        "task": "A simple armless task chair for small desks and home offices.",
        "executive": "An executive chair upholstered in leather with thick padding.",
    }[a["type"]]
    parts = [lead]
    if a["lumbar_support"]:
        parts.append("Adjustable lumbar support.")
    if a["mesh_back"]:
        parts.append("Breathable mesh back stays cool.")
    if a["headrest"]:
        parts.append("Headrest for the neck.")
    if a["adjustable_armrests"]:
        parts.append("4D adjustable armrests.")
    parts.append(f"Supports up to {a['max_load_kg']} kg.")
    return " ".join(parts)


CHAIRS = Template(
    category="office-chairs",
    brands=("Posturo", "Seatwell", "Lindell", "Ergon Home", "Vantor"),
    lines=("Align", "Throne", "Basic", "Comfort", "Elite"),
    attributes=_chair,
    price=lambda a, rng: (
        {"ergonomic": 279, "gaming": 199, "task": 79, "executive": 229}[a["type"]]
        + (40 if a["lumbar_support"] else 0)
        + (a["max_load_kg"] - 110) * 0.8
        + rng.uniform(-20, 60)
    ),
    title=lambda brand, line, a: (
        f"{brand} {line} "
        + {
            "ergonomic": "Ergonomic Office Chair",
            "gaming": "Gaming Chair",
            "task": "Task Chair",
            "executive": "Executive Office Chair",
        }[a["type"]]
    ),
    description=_chair_description,
)


# ------------------------------------------------------------------------ televisions
def _tv(rng: random.Random) -> Attrs:
    panel = _pick(rng, "OLED", "QLED", "LED")
    return {
        "size_in": _pick(rng, 32, 43, 50, 55, 65, 75),
        "panel": panel,
        "resolution": "1080p" if panel == "LED" and rng.random() < 0.3 else "4K",
        "refresh_hz": 120 if panel != "LED" else 60,
        "smart": True,
        "hdr": panel != "LED" or rng.random() < 0.5,
    }


def _tv_description(a: Attrs) -> str:
    lead = {
        "OLED": "An OLED TV with perfect blacks and infinite contrast for movie nights.",
        "QLED": "A bright QLED TV with quantum dot colour that holds up in sunny rooms.",
        "LED": "An LED TV with a smart streaming platform built in.",
    }[a["panel"]]
    parts = [lead, f"{a['size_in']}-inch {a['resolution']} screen, {a['refresh_hz']} Hz."]
    if a["refresh_hz"] >= 120:
        parts.append("120 Hz with low input lag for console gaming and sports.")
    if a["hdr"]:
        parts.append("HDR10 and Dolby Vision.")
    return " ".join(parts)


TVS = Template(
    category="televisions",
    brands=("Visoria", "Lumen", "Kaito", "Brightwave", "Oriel"),
    lines=("Cinema", "Vista", "Home", "Arena", "Prime"),
    attributes=_tv,
    price=lambda a, rng: (
        a["size_in"] * {"OLED": 30, "QLED": 18, "LED": 8}[a["panel"]]
        + (100 if a["resolution"] == "4K" else 0)
        + rng.uniform(-30, 90)
    ),
    title=lambda brand, line, a: (
        f'{brand} {line} {a["size_in"]}" {a["resolution"]} {a["panel"]} Smart TV'
    ),
    description=_tv_description,
)
