#!/usr/bin/env python3
"""Generates models/olympic-park.cfg, the sample venue model Vigil's demo and tests use.

    python3 models/gen-olympic-park.py > models/olympic-park.cfg

Python 3 standard library only, deterministic (no randomness): the same script always
writes the same file, so a regenerated model keeps every index. Edit the numbers here,
not the generated file, and commit both.

The venue is a fictional Olympic sports centre drawn with real-world sizes:
- a ~60,000-seat stadium: 8 gates, each with a ticket-check queue, 3 concourse levels
  of 8 segments each (800-1,500 m2 per segment), 80 stand sections (seat counts from
  the bowl geometry) each entered through a 2.4 m vomitory, a 2,400 m2 standing
  terrace, 16 stair cores between levels;
- an indoor arena (~12,000 seats), an aquatics hall (~5,000 seats) with pool and
  air-quality sensors, a fan zone with a stage, and the outer plaza that joins them.
Areas are walkable areas (m2) after fixed obstacles; widths are effective widths (m):
the clear width less the 0.15 m boundary layer each side that crowds do not use
(Fruin; Green Guide section 10).
"""

import sys

OUT = []


def emit(s=""):
    OUT.append(s)


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def num(v):
    if isinstance(v, int):
        return str(v)
    s = ("%.2f" % v).rstrip("0")
    return s + "0" if s.endswith(".") else s


def group(fields, indent=None, width=100):
    """A libconfig group: { a = 1; b = "x"; }, on one line, or when indent is given wrapped
    to lines of at most `width` characters (continuation lines indented two more)."""
    parts = []
    for k, v in fields:
        if v is None:
            continue
        if isinstance(v, bool):
            parts.append("%s = %s;" % (k, "true" if v else "false"))
        elif isinstance(v, (int, float)):
            parts.append("%s = %s;" % (k, num(v)))
        elif isinstance(v, list):
            parts.append("%s = [ %s ];" % (k, ", ".join(q(x) for x in v)))
        elif isinstance(v, RawCfg):
            parts.append("%s = %s;" % (k, v.text))
        else:
            parts.append("%s = %s;" % (k, q(v)))
    if indent is None:
        return "{ " + " ".join(parts) + " }"
    out, cur = [], "{"
    for p in parts:
        if len(cur) + 1 + len(p) + indent > width and cur.strip() != "{":
            out.append(cur)
            cur = "  " + p
        else:
            cur += " " + p
    out.append(cur + " }")
    return ("\n" + " " * indent).join(out)


class RawCfg:
    def __init__(self, text):
        self.text = text


# --------------------------------------------------------------------------------------
# The venue, built as plain lists first, written at the end.

zones = []      # dicts: id, name, type, area, capacity, sector, neighbours, route, action, ...
lines = []
cameras = []
sensors = []
help_points = []
zone_comments = {}   # zone id -> comment line written before it
line_comments = {}
sensor_comments = {}
camera_comments = {}


def zone(zid, name, ztype, area, capacity=0, sector="stadium", neighbours=(), route="",
         action="", **extra):
    z = dict(id=zid, name=name, type=ztype, area=area, capacity=capacity, sector=sector,
             neighbours=list(neighbours), route=route, action=action)
    z.update(extra)
    zones.append(z)
    return z


def line(lid, name, width, frm, to, **extra):
    l = dict(id=lid, name=name, width=width, frm=frm, to=to)
    l.update(extra)
    lines.append(l)


def sensor(sid, kind, zid, lo, hi, period, unit=None, **extra):
    s = dict(id=sid, kind=kind, zone=zid, min=lo, max=hi, period=period, unit=unit)
    s.update(extra)
    sensors.append(s)


def camera(cid, name, covers, period=1, frigate=None):
    cameras.append(dict(id=cid, name=name, covers=covers, period=period))


# Valid physical ranges per kind: the sensor's measuring range, so a reading outside it
# is a fault, not a crowd or weather event. Periods are the publishing intervals.
RANGES = {
    "temperature": (-30, 60, 60),
    "humidity": (0, 100, 60),
    "wbgt": (-10, 50, 60),
    "co2": (350, 10000, 60),       # NDIR sensors: 400-10,000 ppm; outdoor air never below 350
    "noise": (30, 140, 60),        # LAeq,15min re-computed each minute
    "smoke": (0, 1, 300),          # heartbeat every 5 min, at once on alarm
    "door": (0, 1, 300),
    "vibration": (0, 200, 10),     # mm/s peak velocity
    "water_temperature": (0, 45, 300),
    "wind": (0, 60, 10),
    "pm25": (0, 1000, 60),
}


def env(sid, kind, zid, **extra):
    lo, hi, period = RANGES[kind]
    sensor(sid, kind, zid, lo, hi, period, **extra)


COMPASS = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"]
COMPASS_NAME = {"N": "north", "NE": "north-east", "E": "east", "SE": "south-east",
                "S": "south", "SW": "south-west", "W": "west", "NW": "north-west"}

# --------------------------------------------------------------------------------------
# Outer plaza and approaches

zone("PLZ-OUTER", "Outer plaza", "standing", 42000, 0, "plaza", open=True,
     route="Plaza medical post P1 at the station steps; vehicles via the blue route",
     action="PA message on plaza screens; deploy stewards to spread the crowd to the east lawn")
zone("PLZ-STATION", "Station forecourt", "moving", 9500, 0, "plaza", open=True,
     neighbours=["PLZ-OUTER"],
     route="Station forecourt: BTP liaison, medical post P1",
     action="Ask transport control to meter the station; close the forecourt to arrivals")
zone("PLZ-BRIDGE", "North footbridge (300 m x 7 m)", "moving", 1950, 0, "plaza",
     neighbours=["PLZ-OUTER", "PLZ-STATION"],
     route="Footbridge: ramp access from the service road N",
     action="Stop entry to the footbridge at both ends; one-way flow")
line("L-BRIDGE-N", "Footbridge north end", 6.7, "PLZ-STATION", "PLZ-BRIDGE")
line("L-BRIDGE-S", "Footbridge south end", 6.7, "PLZ-BRIDGE", "PLZ-OUTER")
line("L-STATION", "Station forecourt to plaza", 24.0, "PLZ-STATION", "PLZ-OUTER")

# --------------------------------------------------------------------------------------
# Stadium: ~60,000 seats

# Gates around the bowl; each has a ticket-check queue (security search and ticket
# scan, 16 lanes) and a gate throat into concourse level 1.
for i, c in enumerate(COMPASS):
    g = "G%d" % (i + 1)
    zone("STD-Q-%s" % g, "Gate %s ticket-check queue (%s)" % (g[1:], COMPASS_NAME[c]), "queue",
         640 + 40 * (i % 3), 2000, "stadium", neighbours=["PLZ-OUTER"],
         route="Gate %s: service road to the %s perimeter" % (g[1:], COMPASS_NAME[c]),
         action="Slow the ticket check at gate %s; open the overflow lanes; divert to gate %d"
                % (g[1:], (i + 1) % 8 + 1))
    zone("STD-GATE-%s" % g, "Gate %s throat" % g[1:], "moving", 180, 0, "stadium",
         neighbours=["STD-Q-%s" % g, "STD-C1-%s" % c],
         route="Gate %s" % g[1:], action="Stop ingress at gate %s" % g[1:])
    # 16 search/scan lanes of 0.6 m effective width
    line("L-TKT-%s" % g, "Gate %s ticket check (16 lanes)" % g[1:], 9.6, "STD-Q-%s" % g,
         "STD-GATE-%s" % g)
    line("L-GATE-%s" % g, "Gate %s into concourse" % g[1:], 11.7, "STD-GATE-%s" % g,
         "STD-C1-%s" % c)
    if i == 0:
        line_comments["L-TKT-G1"] = ("Gates: 16 search lanes of 0.6 m each (9.6 m), then a 12 m "
                                     "gate throat (11.7 m effective).")

# Concourse segments, 3 levels x 8 segments. Level 1 is the widest (under the lower
# tier, kiosks and toilets); upper levels are narrower galleries.
CONC_AREA = {1: [1480, 1350, 1420, 1300, 1480, 1350, 1420, 1300],
             2: [1050, 980, 1020, 940, 1050, 980, 1020, 940],
             3: [880, 820, 860, 800, 880, 820, 860, 800]}
for lvl in (1, 2, 3):
    for i, c in enumerate(COMPASS):
        zid = "STD-C%d-%s" % (lvl, c)
        nb = ["STD-C%d-%s" % (lvl, COMPASS[(i + 1) % 8])]
        area = CONC_AREA[lvl][i]
        z = zone(zid, "Stadium concourse level %d %s" % (lvl, COMPASS_NAME[c]), "moving", area,
                 int(area * 2.5), "stadium", neighbours=nb,
                 route="Medical post M%d (level %d %s) via the service ring" % (i + 1, lvl,
                                                                                COMPASS_NAME[c]),
                 action="Hold the level %d %s vomitories; open the cross-over doors; PA message"
                        % (lvl, COMPASS_NAME[c]))
        if lvl == 1:
            # Kiosk queues make level-1 concourses dense at half-time by design.
            z["phases"] = "{ half-time = { density = { advisory = 2.5; on_delay_s = 30; }; }; }"

# Stair cores: one per compass point between levels 1-2 and 2-3. 3.0 m flights,
# 2.7 m effective; ~48 m2 of treads and landings per flight.
for i, c in enumerate(COMPASS):
    for lo in (1, 2):
        sid = "STD-STR-%s-%d%d" % (c, lo, lo + 1)
        zone(sid, "Stair %s, level %d to %d" % (COMPASS_NAME[c], lo, lo + 1), "stair", 48, 0,
             "stadium", neighbours=["STD-C%d-%s" % (lo, c), "STD-C%d-%s" % (lo + 1, c)],
             route="Stair core %s" % COMPASS_NAME[c],
             action="Stop the flow onto stair %s at level %d; open the next stair core"
                    % (COMPASS_NAME[c], lo + 1))
        line("L-STR-%s-%d%d-B" % (c, lo, lo + 1), "Stair %s level %d (bottom)" % (c, lo), 2.7,
             "STD-C%d-%s" % (lo, c), sid)
        line("L-STR-%s-%d%d-T" % (c, lo, lo + 1), "Stair %s level %d (top)" % (c, lo + 1), 2.7,
             sid, "STD-C%d-%s" % (lo + 1, c))

# Stand sections. Lower tier: 32 sections, 4 per concourse segment; middle and upper
# tiers: 24 sections each, 3 per segment. Seats from rows x seats per row; 0.5 m2 of
# walkable area per seat (0.8 m row depth x 0.5 m seat, plus gangways).
# The south lower tier (segment S) is the standing terrace instead of 4 sections.
LOWER = [(30, 31), (32, 31), (34, 31), (36, 31)]   # rows, seats per row
MIDDLE = [(24, 27), (26, 25), (25, 28)]
UPPER = [(22, 30), (24, 28), (26, 26)]
tier_seats = {1: 0, 2: 0, 3: 0}
for lvl, per, shapes, base in ((1, 4, LOWER, 101), (2, 3, MIDDLE, 201), (3, 3, UPPER, 301)):
    n = 0
    for i, c in enumerate(COMPASS):
        if lvl == 1 and c == "S":
            continue
        for k in range(per):
            rows, per_row = shapes[k % len(shapes)]
            seats = rows * per_row
            sec = "S%d" % (base + n)
            n += 1
            tier_seats[lvl] += seats
            vom = "STD-VOM-%s" % sec
            zone("STD-%s" % sec, "Stand section %s (%d seats)" % (sec[1:], seats), "seated",
                 seats * 0.5, seats, "stadium", neighbours=[vom],
                 route="Section %s via vomitory %s from concourse level %d %s"
                       % (sec[1:], sec[1:], lvl, COMPASS_NAME[c]),
                 action="Stewards to vomitory %s; hold spectators in their seats" % sec[1:])
            # A vomitory: 2.4 m wide, ~10 m long tunnel through the tier.
            zone(vom, "Vomitory %s" % sec[1:], "moving", 24, 0, "stadium",
                 neighbours=["STD-C%d-%s" % (lvl, c)],
                 route="Vomitory %s" % sec[1:], action="Hold the flow out of section %s" % sec[1:])
            line("L-VOM-%s" % sec, "Vomitory %s" % sec[1:], 2.4, "STD-C%d-%s" % (lvl, c), vom)

# The south standing terrace (safe standing, rail seats): 2,400 m2, licensed for 7,000
# (Green Guide holding capacity at 2.9 p/m2 after the terrace's condition factor).
zone("STD-TERR-S", "South standing terrace", "standing", 2400, 7000, "stadium",
     neighbours=["STD-TVOM-S1", "STD-TVOM-S2"],
     route="South terrace via terrace entrances 1 and 2, level 1 south",
     action="Stop entry to the terrace; stewards to the front barrier; open the pitch-perimeter "
            "gates only on the safety officer's order",
     overrides="{ density = { on_delay_s = 30; }; }")
for k in (1, 2):
    zone("STD-TVOM-S%d" % k, "Terrace entrance %d" % k, "moving", 36, 0, "stadium",
         neighbours=["STD-C1-S"], route="Terrace entrance %d" % k,
         action="Close terrace entrance %d" % k)
    line("L-TERR-S%d" % k, "Terrace entrance %d" % k, 3.6, "STD-C1-S", "STD-TVOM-S%d" % k)

# --------------------------------------------------------------------------------------
# Indoor arena: ~12,000 seats, one concourse ring of 4 segments, 16 bowl sections.

zone("ARN-Q-E", "Arena east queue", "queue", 420, 1200, "arena", neighbours=["PLZ-OUTER"],
     route="Arena east doors", action="Slow the bag search at the arena east doors")
zone("ARN-Q-W", "Arena west queue", "queue", 420, 1200, "arena", neighbours=["PLZ-OUTER"],
     route="Arena west doors", action="Slow the bag search at the arena west doors")
zone("ARN-LOBBY", "Arena lobby", "moving", 1800, 4500, "arena",
     neighbours=["ARN-Q-E", "ARN-Q-W"], route="Arena lobby, first-aid room A1",
     action="Stop ingress at both arena doors; open the lobby side exits")
line("L-ARN-DOOR-E", "Arena east doors (6 x 1.8 m)", 10.8, "ARN-Q-E", "ARN-LOBBY")
line("L-ARN-DOOR-W", "Arena west doors (6 x 1.8 m)", 10.8, "ARN-Q-W", "ARN-LOBBY")
ARN_SIDES = ["N", "E", "S", "W"]
for i, c in enumerate(ARN_SIDES):
    zid = "ARN-C-%s" % c
    zone(zid, "Arena concourse %s" % COMPASS_NAME[c], "moving", 900, 2250, "arena",
         neighbours=["ARN-LOBBY", "ARN-C-%s" % ARN_SIDES[(i + 1) % 4]],
         route="Arena concourse %s from first-aid room A1" % COMPASS_NAME[c],
         action="Hold the arena %s vomitories; PA message" % COMPASS_NAME[c])
    for k in range(4):
        sec = "S%d" % (101 + 4 * i + k)
        seats = 720 + 40 * k   # 720..840
        zone("ARN-%s" % sec, "Arena section %s (%d seats)" % (sec[1:], seats), "seated",
             seats * 0.5, seats, "arena", neighbours=[zid],
             route="Arena section %s from concourse %s" % (sec[1:], COMPASS_NAME[c]),
             action="Stewards to arena vomitory %s" % sec[1:])
        line("L-ARN-VOM-%s" % sec, "Arena vomitory %s" % sec[1:], 2.0, zid, "ARN-%s" % sec)

# --------------------------------------------------------------------------------------
# Aquatics hall: ~5,000 seats on two stands over the competition and diving pools.

zone("AQU-Q", "Aquatics entrance queue", "queue", 300, 900, "aquatics", neighbours=["PLZ-OUTER"],
     route="Aquatics main entrance", action="Slow the ticket check at the aquatics entrance")
zone("AQU-LOBBY", "Aquatics lobby", "moving", 950, 2300, "aquatics", neighbours=["AQU-Q"],
     route="Aquatics lobby, first-aid room Q1", action="Stop ingress at the aquatics entrance")
line("L-AQU-DOOR", "Aquatics entrance (4 x 1.8 m)", 7.2, "AQU-Q", "AQU-LOBBY")
for side in ("N", "S"):
    zid = "AQU-C-%s" % side
    zone(zid, "Aquatics concourse %s" % COMPASS_NAME[side], "moving", 620, 1550, "aquatics",
         neighbours=["AQU-LOBBY"], route="Aquatics concourse %s" % COMPASS_NAME[side],
         action="Hold the aquatics %s stand vomitories" % COMPASS_NAME[side],
         profile="aquatics")
    for k in range(4):
        sec = "S%s%d" % (side, k + 1)
        seats = 600 + 25 * k   # 600..675
        zone("AQU-%s" % sec, "Aquatics stand %s block %d (%d seats)" % (side, k + 1, seats),
             "seated", seats * 0.5, seats, "aquatics", neighbours=[zid],
             route="Aquatics stand %s block %d" % (side, k + 1),
             action="Stewards to aquatics block %s%d" % (side, k + 1), profile="aquatics")
        line("L-AQU-VOM-%s" % sec, "Aquatics stand %s block %d" % (side, k + 1), 1.8, zid,
             "AQU-%s" % sec)
zone("AQU-DECK", "Pool deck (athletes and officials)", "moving", 2100, 400, "aquatics",
     neighbours=["AQU-C-N", "AQU-C-S"], route="Pool deck via the athletes' corridor",
     action="Clear the deck to the athletes' corridor", profile="aquatics")

# --------------------------------------------------------------------------------------
# Fan zone: open-air screens and a stage on the east lawn.

for k, c in ((1, "N"), (2, "S")):
    zone("FAN-Q-%s" % c, "Fan zone %s entry queue" % COMPASS_NAME[c], "queue", 500, 1500,
         "fanzone", neighbours=["PLZ-OUTER"], route="Fan zone %s entry" % COMPASS_NAME[c],
         action="Close the fan zone %s entry; one-in one-out" % COMPASS_NAME[c])
    line("L-FAN-IN-%s" % c, "Fan zone %s entry (bag check, 8 m)" % COMPASS_NAME[c], 7.7,
         "FAN-Q-%s" % c, "FAN-MAIN")
zone("FAN-MAIN", "Fan zone main lawn", "standing", 16000, 32000, "fanzone",
     neighbours=["FAN-Q-N", "FAN-Q-S"], route="Fan zone medical tent F1 by the north entry",
     action="Stop entry at both fan zone entries; open the east lawn extension", profile="outdoor")
zone("FAN-STAGE", "Fan zone front of stage", "standing", 2500, 7500, "fanzone",
     neighbours=["FAN-MAIN"], route="Front-of-stage pit: medical tent F1, pit access gate",
     action="Stop the show (stage manager); front-barrier stewards; screens message",
     profile="outdoor")
zone("FAN-FOOD", "Fan zone food court", "moving", 3500, 7000, "fanzone", neighbours=["FAN-MAIN"],
     route="Food court from medical tent F1", action="Open the overflow seating area",
     profile="outdoor")
line("L-FAN-STAGE", "Front-of-stage barrier line", 40.0, "FAN-MAIN", "FAN-STAGE")
line("L-FAN-FOOD", "Food court entrance", 12.0, "FAN-MAIN", "FAN-FOOD")

# --------------------------------------------------------------------------------------
# Sensors

for i, c in enumerate(COMPASS):
    for lvl in (1, 2, 3):
        zid = "STD-C%d-%s" % (lvl, c)
        env("%s-TMP" % zid, "temperature", zid, unit="degC")
        env("%s-HUM" % zid, "humidity", zid, unit="%RH")
        env("%s-SMK1" % zid, "smoke", zid)
        env("%s-SMK2" % zid, "smoke", zid)
        if lvl < 3:   # enclosed concourses under the tiers: CO2 builds up at half-time
            env("%s-CO2" % zid, "co2", zid, unit="ppm")
        if lvl == 1:  # emergency exit doors on the outer wall
            env("%s-DOOR1" % zid, "door", zid)
            env("%s-DOOR2" % zid, "door", zid)
    # upper-tier cantilever: structural vibration under dynamic crowd load
    env("STD-C3-%s-VIB" % c, "vibration", "STD-C3-%s" % c, unit="mm/s")
# sound level in the bowl (one meter per lower-tier side), spectators' WBGT in the sun
for c in ("N", "E", "W"):
    zid = "STD-S%d" % {"N": 101, "E": 109, "W": 121}[c]
    env("STD-BOWL-%s-NOISE" % c, "noise", zid, unit="dBA")
    env("STD-BOWL-%s-WBGT" % c, "wbgt", zid, unit="degC")
env("STD-TERR-S-NOISE", "noise", "STD-TERR-S", unit="dBA")
env("STD-TERR-S-WBGT", "wbgt", "STD-TERR-S", unit="degC")
env("STD-TERR-S-VIB1", "vibration", "STD-TERR-S", unit="mm/s")
env("STD-TERR-S-VIB2", "vibration", "STD-TERR-S", unit="mm/s")

for c in ARN_SIDES:
    zid = "ARN-C-%s" % c
    env("%s-TMP" % zid, "temperature", zid)
    env("%s-HUM" % zid, "humidity", zid)
    env("%s-CO2" % zid, "co2", zid)
    env("%s-SMK" % zid, "smoke", zid)
    env("%s-DOOR1" % zid, "door", zid)
    env("%s-DOOR2" % zid, "door", zid)
for k in range(1, 17, 2):   # bowl air quality: one CO2 sensor per two sections
    zid = "ARN-S%d" % (100 + k)
    env("%s-CO2" % zid, "co2", zid)
    env("%s-TMP" % zid, "temperature", zid)
env("ARN-BOWL-NOISE1", "noise", "ARN-S101", unit="dBA")
env("ARN-BOWL-NOISE2", "noise", "ARN-S109", unit="dBA")
for kind, sfx in (("co2", "CO2"), ("temperature", "TMP"), ("humidity", "HUM"), ("smoke", "SMK")):
    env("ARN-LOBBY-%s" % sfx, kind, "ARN-LOBBY")

# Aquatics: a Zigbee sensor network (zigbee2mqtt) for the hall air and the pools.
for k, zid in enumerate(["AQU-SN1", "AQU-SN3", "AQU-SS1", "AQU-SS3"]):
    dev = "aqu-hall-env-%d" % (k + 1)
    env("AQU-HALL-TMP%d" % (k + 1), "temperature", zid,
        z2m=RawCfg("{ device = %s; field = \"temperature\"; }" % q(dev)))
    env("AQU-HALL-HUM%d" % (k + 1), "humidity", zid,
        z2m=RawCfg("{ device = %s; field = \"humidity\"; }" % q(dev)))
    env("AQU-HALL-CO2%d" % (k + 1), "co2", zid,
        z2m=RawCfg("{ device = %s; field = \"co2\"; }" % q("aqu-hall-co2-%d" % (k + 1))))
    env("AQU-HALL-SMK%d" % (k + 1), "smoke", zid,
        z2m=RawCfg("{ device = %s; field = \"smoke\"; }" % q("aqu-smoke-%d" % (k + 1))))
for pool, dev in (("COMP", "aqu-pool-competition"), ("DIVE", "aqu-pool-diving"),
                  ("WARM", "aqu-pool-warmup")):
    env("AQU-POOL-%s-TMP" % pool, "water_temperature", "AQU-DECK", unit="degC",
        z2m=RawCfg("{ device = %s; field = \"temperature\"; }" % q(dev)))
for side in ("N", "S"):
    env("AQU-C-%s-DOOR" % side, "door", "AQU-C-%s" % side)
    env("AQU-C-%s-TMP" % side, "temperature", "AQU-C-%s" % side)
for kind, sfx in (("co2", "CO2"), ("temperature", "TMP"), ("humidity", "HUM")):
    env("AQU-LOBBY-%s" % sfx, kind, "AQU-LOBBY")
env("AQU-DECK-CO2", "co2", "AQU-DECK")
env("AQU-DECK-HUM", "humidity", "AQU-DECK")

# Fan zone: heat stress and wind are the outdoor risks; noise at the stage.
for k, zid in enumerate(["FAN-MAIN", "FAN-MAIN", "FAN-STAGE", "FAN-FOOD"]):
    env("FAN-WBGT%d" % (k + 1), "wbgt", zid, unit="degC")
env("FAN-STAGE-WIND1", "wind", "FAN-STAGE", unit="m/s")
env("FAN-STAGE-WIND2", "wind", "FAN-STAGE", unit="m/s")
env("FAN-STAGE-NOISE1", "noise", "FAN-STAGE", unit="dBA")
env("FAN-STAGE-NOISE2", "noise", "FAN-STAGE", unit="dBA")
for zid in ("FAN-MAIN", "FAN-FOOD"):
    env("%s-TMP" % zid, "temperature", zid)
    env("%s-HUM" % zid, "humidity", zid)
env("FAN-MAIN-PM25", "pm25", "FAN-MAIN", unit="ug/m3")
for zid in ("PLZ-OUTER", "PLZ-STATION"):
    env("%s-WBGT" % zid, "wbgt", zid, unit="degC")
    env("%s-TMP" % zid, "temperature", zid)
    env("%s-HUM" % zid, "humidity", zid)

# --------------------------------------------------------------------------------------
# Cameras (vigil-count natively, Frigate in the fan zone)

for i, c in enumerate(COMPASS):
    g = "G%d" % (i + 1)
    camera("CAM-%s" % g, "Gate %s queue and throat" % g[1:],
           [("STD-Q-%s" % g, 0.9, None), ("STD-GATE-%s" % g, 1.0, None)])
for lvl in (1, 2, 3):
    for c in COMPASS:
        zid = "STD-C%d-%s" % (lvl, c)
        covers = [(zid, 0.75 if lvl == 1 else 0.85, None)]
        camera("CAM-C%d-%s" % (lvl, c), "Concourse level %d %s" % (lvl, COMPASS_NAME[c]), covers)
camera("CAM-TERR-S1", "South terrace west half", [("STD-TERR-S", 0.5, None)])
camera("CAM-TERR-S2", "South terrace east half", [("STD-TERR-S", 0.5, None)])
for k, c in enumerate(("N", "E", "S", "W")):
    camera("CAM-PLZ-%s" % c, "Outer plaza %s" % COMPASS_NAME[c], [("PLZ-OUTER", 0.2, None)])
camera("CAM-STATION", "Station forecourt", [("PLZ-STATION", 0.8, None)])
camera("CAM-BRIDGE", "Footbridge", [("PLZ-BRIDGE", 0.6, None)])
camera("CAM-ARN-LOBBY", "Arena lobby and east queue",
       [("ARN-LOBBY", 0.8, None), ("ARN-Q-E", 1.0, None)])
camera("CAM-ARN-QW", "Arena west queue", [("ARN-Q-W", 1.0, None)])
for c in ARN_SIDES:
    camera("CAM-ARN-C-%s" % c, "Arena concourse %s" % COMPASS_NAME[c], [("ARN-C-%s" % c, 0.85, None)])
camera("CAM-AQU-LOBBY", "Aquatics lobby and queue", [("AQU-LOBBY", 0.9, None), ("AQU-Q", 1.0, None)])
camera("CAM-AQU-C", "Aquatics concourses", [("AQU-C-N", 0.7, None), ("AQU-C-S", 0.7, None)])
camera("CAM-FAN-STAGE", "Fan zone stage (Frigate)", [("FAN-STAGE", 0.95, "fan_stage")], period=2)
camera("CAM-FAN-N", "Fan zone lawn north (Frigate)",
       [("FAN-MAIN", 0.45, "fan_main_north"), ("FAN-Q-N", 1.0, "fan_entry_north")], period=2)
camera("CAM-FAN-S", "Fan zone lawn south (Frigate)",
       [("FAN-MAIN", 0.45, "fan_main_south"), ("FAN-Q-S", 1.0, "fan_entry_south")], period=2)
camera("CAM-FAN-FOOD", "Fan zone food court (Frigate)", [("FAN-FOOD", 0.8, "fan_food")], period=2)

# --------------------------------------------------------------------------------------
# Help points: one per stadium concourse segment, and at each building's main spaces.

for lvl in (1, 2, 3):
    for c in COMPASS:
        zid = "STD-C%d-%s" % (lvl, c)
        help_points.append(dict(id="HP-C%d-%s" % (lvl, c),
                                name="Help point concourse level %d %s" % (lvl, COMPASS_NAME[c]),
                                zone=zid))
for hid, name, zid in (("HP-TERR-S", "Help point south terrace", "STD-TERR-S"),
                       ("HP-PLZ-1", "Help point plaza by the station steps", "PLZ-OUTER"),
                       ("HP-PLZ-2", "Help point plaza east lawn", "PLZ-OUTER"),
                       ("HP-STATION", "Help point station forecourt", "PLZ-STATION"),
                       ("HP-BRIDGE", "Help point footbridge midspan", "PLZ-BRIDGE"),
                       ("HP-ARN-LOBBY", "Help point arena lobby", "ARN-LOBBY"),
                       ("HP-ARN-C-N", "Help point arena concourse north", "ARN-C-N"),
                       ("HP-ARN-C-S", "Help point arena concourse south", "ARN-C-S"),
                       ("HP-AQU-LOBBY", "Help point aquatics lobby", "AQU-LOBBY"),
                       ("HP-AQU-DECK", "Help point pool deck", "AQU-DECK"),
                       ("HP-FAN-N", "Help point fan zone north", "FAN-MAIN"),
                       ("HP-FAN-S", "Help point fan zone south", "FAN-MAIN"),
                       ("HP-FAN-STAGE", "Help point front of stage", "FAN-STAGE"),
                       ("HP-FAN-FOOD", "Help point food court", "FAN-FOOD")):
    help_points.append(dict(id=hid, name=name, zone=zid))

# --------------------------------------------------------------------------------------
# Checks the generator can make before writing (the loader checks the rest).

ids = [z["id"] for z in zones]
assert len(ids) == len(set(ids)), "duplicate zone id"
known = set(ids)
for z in zones:
    for n in z["neighbours"]:
        assert n in known, (z["id"], n)
for l in lines:
    assert l["frm"] in known and l["to"] in known, l["id"]
seated_stadium = sum(z["capacity"] for z in zones
                     if z["type"] == "seated" and z["sector"] == "stadium")
assert 55000 <= seated_stadium <= 65000, seated_stadium

# --------------------------------------------------------------------------------------
# Writing

emit("""# Olympic Park: the sample venue model for Vigil (docs/model.md describes the format).
#
# GENERATED by models/gen-olympic-park.py; edit the script and regenerate:
#     python3 models/gen-olympic-park.py > models/olympic-park.cfg
#
# A fictional Olympic sports centre with real-world sizes:
#   stadium   %d seats in %d sections (lower %d, middle %d, upper %d), a standing
#             terrace for 7,000, 8 gates with ticket-check queues, 3 concourse levels,
#             vomitories and stair cores
#   arena     %d seats;  aquatics hall %d seats with pool and air sensors
#   fan zone  lawn, stage and food court;  plaza, station forecourt and footbridge
# Totals: %d zones, %d counting lines, %d cameras, %d sensors, %d help points.
#
# Units: areas are walkable m2, widths effective m, periods and delays seconds,
# densities persons/m2, flows fractions of 82 (level) or 66 (stairs) persons/m/min.
""" % (seated_stadium, sum(1 for z in zones if z["type"] == "seated" and z["sector"] == "stadium"),
       tier_seats[1], tier_seats[2], tier_seats[3],
       sum(z["capacity"] for z in zones if z["type"] == "seated" and z["sector"] == "arena"),
       sum(z["capacity"] for z in zones if z["type"] == "seated" and z["sector"] == "aquatics"),
       len(zones), len(lines), len(cameras), len(sensors), len(help_points)))

emit("""venue = {
    id = "olympic-park";          # MQTT topics: vigil/olympic-park/...
    name = "Olympic Park";
    version = "2026.1";           # bump on every change: archives record it
    utc_offset = "+02:00";        # local time for the daily phases below (CEST)
    default_profile = "default";
};
""")

emit("""# ---------------------------------------------------------------------------------------
# Threshold profiles. "default" spells out the built-in values from DESIGN.md "Default
# grades" so they can be read and tuned here; the others inherit from it (base) and change
# only what they name. Grades: advisory < warning < critical < emergency; "off" disables one.
#   deadband     a grade clears only below level - deadband
#   on_delay_s   the value must hold the grade this long before it is raised
#                (emergency grades fire at once)
#   off_delay_s  the value must stay below level - deadband this long before it lowers
profiles = (
    {
        id = "default";
        density = {
            # Still (2014) quoting the Green Guide: <= 4 p/m2 moving and queues, 5 red
            moving   = { advisory = 2.0; warning = 3.0; critical = 4.0; emergency = 5.0;
                         deadband = 0.3; on_delay_s = 20; off_delay_s = 30; };
            queue    = { advisory = 2.0; warning = 3.0; critical = 4.0; emergency = 5.0;
                         deadband = 0.3; on_delay_s = 20; off_delay_s = 30; };
            # Green Guide: 4.7 p/m2 standing
            standing = { advisory = 2.0; warning = 4.0; critical = 4.7; emergency = 5.5;
                         deadband = 0.3; on_delay_s = 45; off_delay_s = 60; };
            # Fruin stair levels of service D, E, F
            stair    = { advisory = 1.08; warning = 1.54; critical = 2.69; emergency = "off";
                         deadband = 0.15; on_delay_s = 15; off_delay_s = 30; };
            # seats bound density: seated sections are graded by occupancy
            seated   = { advisory = "off"; warning = "off"; critical = "off"; emergency = "off"; };
        };
        # persons counted in by the lines / capacity
        occupancy = { advisory = 0.9; warning = 1.0; critical = 1.1; emergency = "off";
                      deadband = 0.03; on_delay_s = 30; off_delay_s = 60; };
        # fraction of 82 (level) / 66 (stairs) persons per metre per minute
        flow = { advisory = 0.7; warning = 0.9; critical = 1.0; emergency = "off";
                 deadband = 0.05; on_delay_s = 30; off_delay_s = 60; };
        # density x speed variance, 1/s2: turbulence from ~0.02 (Helbing et al. 2007)
        pressure = { advisory = "off"; warning = 0.01; critical = 0.015; emergency = 0.02;
                     deadband = 0.002; on_delay_s = 10; off_delay_s = 30; };
        sensors = {
            # spectators' heat stress: ACSM flags, ISO 7243
            wbgt  = { advisory = 23; warning = 28; critical = 32; emergency = "off";
                      deadband = 0.5; on_delay_s = 300; off_delay_s = 600; };
            # indoor air: UK HSE and German UBA guidance
            co2   = { advisory = 800; warning = 1500; critical = 2000; emergency = "off";
                      deadband = 100; on_delay_s = 180; off_delay_s = 300; };
            # audience noise: WHO 100 dB LAeq,15min
            noise = { advisory = 97; warning = 100; critical = "off"; emergency = "off";
                      deadband = 1; on_delay_s = 60; off_delay_s = 300; };
            smoke = { critical = 1; deadband = 0.5; on_delay_s = 0; off_delay_s = 60; };
        };
        trend_horizon_s = 300;     # warn when critical density is predicted within 5 min
        mismatch = { fraction = 0.25; min = 20; delay_s = 120; };   # lines vs cameras
        stale_factor = 3;          # stale after 3 missed periods
        stuck_factor = 30;         # stuck when flat for 30 periods
        chatter = { cycles = 3; window_s = 60; };
    },
    {
        # Gates open: dense ticket-check queues are expected, the concern is their growth.
        id = "ingress";
        base = "default";
        density = { queue = { advisory = 2.5; on_delay_s = 30; }; };
    },
    {
        # After the final whistle: concourses and stairs run full for ~20 minutes.
        id = "egress";
        base = "default";
        density = { moving = { advisory = 2.5; on_delay_s = 30; };
                    stair  = { on_delay_s = 30; }; };
        flow = { on_delay_s = 60; };
    },
    {
        # Pool halls are warm and humid by design (28-30 C air, 50-65 % RH).
        id = "aquatics";
        base = "default";
        sensors = {
            temperature       = { advisory = 32; warning = 34; critical = 36; deadband = 0.5;
                                  on_delay_s = 300; off_delay_s = 600; };
            humidity          = { advisory = 70; warning = 80; deadband = 2;
                                  on_delay_s = 600; off_delay_s = 600; };
            # FINA competition pools: 25-28 C
            water_temperature = { advisory = 28.5; warning = 29.5; deadband = 0.2;
                                  on_delay_s = 900; off_delay_s = 900; };
        };
        sensitivity = { humidity = 0.4; };
    },
    {
        # Open air: wind on the stage and screens (stage-roof wind plan: 13.9 m/s stop the
        # show, 20 m/s clear the front of stage).
        id = "outdoor";
        base = "default";
        sensors = {
            wind = { advisory = 10.8; warning = 13.9; critical = 20; deadband = 1;
                     on_delay_s = 30; off_delay_s = 600; };
            pm25 = { advisory = 25; warning = 50; deadband = 5;
                     on_delay_s = 900; off_delay_s = 900; };
        };
    }
);

# ---------------------------------------------------------------------------------------
# Phases of the event day (venue local time, daily). The first matching phase applies.
# A phase's profile replaces every zone's profile while it lasts; zones can add their own
# per-phase overrides (see the level-1 concourses' half-time).
phases = (
    { id = "ingress";   start = "16:30"; end = "19:00"; profile = "ingress"; },
    { id = "half-time"; start = "19:45"; end = "20:05"; },
    { id = "match";     start = "19:00"; end = "20:50"; },
    { id = "egress";    start = "20:50"; end = "22:30"; profile = "egress"; }
);

# ---------------------------------------------------------------------------------------
# Alert routing: feed per alert kind. Only changes from the defaults are needed; these are
# the defaults for the crowd and health kinds, written out for the control room's benefit.
routes = {
    density = "security";
    trend_to_critical = "security";
    flow = "security";
    pressure = "security";
    wbgt = "medical";
    noise = "medical";
    help_medical = "medical";
    help_fire = "security";
    co2 = "technical";
    smoke = "security";
};
""")


def write_section(name, items, render, comments, header):
    emit("# " + "-" * 87)
    for h in header:
        emit("# " + h if h else "#")
    emit("%s = (" % name)
    for i, it in enumerate(items):
        if it["id"] in comments:
            emit("    # " + comments[it["id"]])
        emit("    " + render(it) + ("," if i + 1 < len(items) else ""))
    emit(");")
    emit("")


def render_zone(z):
    f = [("id", z["id"]), ("name", z["name"]), ("type", z["type"]), ("area_m2", z["area"])]
    if z["capacity"]:
        f.append(("capacity", z["capacity"]))
    f.append(("sector", z["sector"]))
    if z.get("open"):
        f.append(("open", True))
    if z["neighbours"]:
        f.append(("neighbours", z["neighbours"]))
    if z.get("profile"):
        f.append(("profile", z["profile"]))
    if z.get("overrides"):
        f.append(("overrides", RawCfg(z["overrides"])))
    if z.get("phases"):
        f.append(("phases", RawCfg(z["phases"])))
    f += [("route", z["route"]), ("action", z["action"])]
    return group(f, indent=4)


zone_comments.update({
    "PLZ-OUTER": "Outer plaza and approaches: the plaza joins every building's queues.",
    "STD-Q-G1": "Stadium gates: a ticket-check queue, then the gate throat into concourse level 1.",
    "STD-C1-N": "Stadium concourses, 3 levels x 8 segments. Level 1 (under the lower tier: kiosks, "
                "toilets)\n    # is denser at half-time by design: see its half-time phase override.",
    "STD-STR-N-12": "Stadium stair cores between levels: 3.0 m flights, ~48 m2 of treads and landings.",
    "STD-S101": "Stand sections (0.5 m2 walkable per seat), each entered through a 2.4 m x 10 m "
                "vomitory.",
    "STD-TERR-S": "South standing terrace (rail seats), licensed for 7,000.",
    "ARN-Q-E": "Indoor arena: queues, lobby, concourse ring of 4 segments, 16 bowl sections.",
    "AQU-Q": "Aquatics hall: two stands over the competition and diving pools; warm, humid air.",
    "FAN-Q-N": "Fan zone on the east lawn: entries, main lawn, front of stage, food court.",
})

write_section("zones", zones, render_zone, zone_comments, [
    "Zones. type: moving | standing | stair | queue | seated. area_m2: walkable area.",
    "capacity: licensed persons (0 or absent: not capacity-managed). neighbours: the zone",
    "graph (made symmetric on load). route: how responders get there. action: what the",
    "control room suggests on a crowd alert. open: people also come and go from outside the",
    "venue here, past no counting line (no occupancy from lines)."])


line_comments.update({
    "L-BRIDGE-N": "Plaza approaches.",
    "L-STR-N-12-B": "Stair cores: a line at the bottom and at the top of each flight.",
    "L-VOM-S101": "Stadium vomitories, 2.4 m.",
    "L-TERR-S1": "Terrace entrances.",
    "L-ARN-DOOR-E": "Arena.",
    "L-AQU-DOOR": "Aquatics hall.",
    "L-FAN-IN-N": "Fan zone.",
})


def render_line(l):
    f = [("id", l["id"]), ("name", l["name"]), ("width_m", l["width"]), ("from", l["frm"]),
         ("to", l["to"])]
    return group(f, indent=4)


write_section("lines", lines, render_line, line_comments, [
    "Counting lines: effective width (m) and the two zones they join; \"in\" crossings go",
    "from -> to. A line touching a stair zone uses the stair reference flow (66 p/m/min),",
    "others 82 p/m/min. Vomitories are 2.4 m; stairs 3.0 m flights, 2.7 m effective."])


def render_camera(c):
    zs = []
    for zid, cov, fr in c["covers"]:
        zs.append(group([("zone", zid), ("coverage", cov), ("frigate", fr)]))
    f = [("id", c["id"]), ("name", c["name"])]
    if c["period"] != 1:
        f.append(("period_s", c["period"]))
    f.append(("zones", RawCfg("( " + ", ".join(zs) + " )")))
    return group(f, indent=4)


camera_comments["CAM-FAN-STAGE"] = ("Fan zone cameras run Frigate: frigate/<name>/person "
                                    "carries the person count of each Frigate zone.")
write_section("cameras", cameras, render_camera, camera_comments, [
    "Cameras: the zones each one counts, with the fraction of the zone's walkable area in",
    "view (coverage); counts are scaled up by it. frigate: the Frigate zone name whose",
    "frigate/<name>/person topic feeds this (camera, zone)."])


def render_sensor(s):
    f = [("id", s["id"]), ("kind", s["kind"])]
    if s.get("unit"):
        f.append(("unit", s["unit"]))
    f += [("zone", s["zone"]), ("min", s["min"]), ("max", s["max"]), ("period_s", s["period"])]
    if s.get("z2m"):
        f.append(("z2m", s["z2m"]))
    return group(f, indent=4)


sensor_comments["AQU-HALL-TMP1"] = ("Aquatics hall: Zigbee sensors through zigbee2mqtt "
                                    "(zigbee2mqtt/<device> JSON fields).")
sensor_comments[sensors[0]["id"]] = "Stadium concourses: air, smoke, CO2 under the tiers, exit doors."
sensor_comments["ARN-C-N-TMP"] = "Arena concourses, bowl and lobby."
sensor_comments["FAN-WBGT1"] = "Fan zone: heat stress (WBGT), stage wind and noise."
write_section("sensors", sensors, render_sensor, sensor_comments, [
    "Sensors: kind, unit, zone, valid physical range [min, max] (outside it a reading is a",
    "fault and is rejected), expected period (stale after stale_factor x period). Limits",
    "come from the profile of the sensor's zone unless the sensor sets profile or limit."])


def render_help(h):
    return group([("id", h["id"]), ("name", h["name"]), ("zone", h["zone"])])


write_section("help_points", help_points, render_help, {}, [
    "Help points: a press publishes vigil/olympic-park/help/<id> with its type",
    "(medical, security, fire, other)."])

sys.stdout.write("\n".join(OUT))
