"""Generate the bundled bilingual sample catalog and its product images.

Run from the repository root:

    python store/sample/make_sample.py

Writes ``store/sample/catalog.json`` and ``store/sample/images/<CODE>.png``.
The output is deterministic (``random.Random(42)``) and needs no network.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import NamedTuple

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
IMAGE_DIR = HERE / "images"
CATALOG_PATH = HERE / "catalog.json"

# Canonical colours: name -> (SKU code, RGB used for the images).
RGB = tuple[int, int, int]
COLOURS: dict[str, tuple[str, RGB]] = {
    "red": ("RED", (214, 48, 49)),
    "blue": ("BLU", (52, 120, 214)),
    "navy": ("NAV", (32, 48, 96)),
    "black": ("BLK", (38, 38, 42)),
    "white": ("WHT", (248, 248, 245)),
    "grey": ("GRY", (150, 153, 160)),
    "green": ("GRN", (60, 150, 90)),
    "yellow": ("YLW", (242, 200, 50)),
    "pink": ("PNK", (240, 150, 182)),
    "purple": ("PUR", (140, 92, 182)),
    "orange": ("ORG", (240, 130, 40)),
    "brown": ("BRN", (128, 84, 54)),
    "beige": ("BEI", (216, 196, 160)),
}

CATEGORIES: dict[str, tuple[str, str]] = {
    "TS": ("T-shirts", "T恤"),
    "SH": ("Shirts", "衬衫"),
    "PA": ("Pants", "裤子"),
    "DR": ("Dresses", "连衣裙"),
    "JK": ("Jackets", "外套"),
    "SO": ("Shoes", "鞋"),
    "BG": ("Bags", "包"),
    "AC": ("Accessories", "配饰"),
    "SP": ("Sportswear", "运动服"),
    "HM": ("Home", "家居"),
}

# Fictional brands; the same string is used in both languages.
BRANDS: dict[str, list[str]] = {
    "TS": ["Urban Fox", "青禾", "Tidewell", "Kiteline"],
    "SH": ["Bramble & Oak", "青禾", "Lumi", "森屿"],
    "PA": ["Urban Fox", "Bramble & Oak", "Kiteline", "Northpeak"],
    "DR": ["Lumi", "森屿", "青禾"],
    "JK": ["Northpeak", "Urban Fox", "Bramble & Oak", "Kiteline"],
    "SO": ["Tidewell", "Northpeak", "Urban Fox", "Kiteline"],
    "BG": ["Kiteline", "Lumi", "Bramble & Oak", "Northpeak"],
    "AC": ["Kiteline", "Lumi", "Urban Fox", "Northpeak"],
    "SP": ["Tidewell", "Northpeak", "Urban Fox"],
    "HM": ["森屿", "青禾", "Bramble & Oak"],
}

CLOTHING_SIZES = ["S", "M", "L", "XL", "XXL"]
SHOE_SIZES = [str(n) for n in range(36, 46)]
SIZE_RUNS: dict[str, dict[str, list[str]]] = {  # sizing -> audience -> sizes
    "clothing": {"女": CLOTHING_SIZES[:4], "男": CLOTHING_SIZES[1:], "": CLOTHING_SIZES},
    "shoes": {"女": SHOE_SIZES[:5], "男": SHOE_SIZES[3:], "": SHOE_SIZES},
}


class ProductType(NamedTuple):
    shape: str  # key into SHAPES
    sizing: str  # "clothing", "shoes" or "one"
    price: tuple[int, int]  # default CNY price range
    palette: str  # colours to pick from when an item does not fix them
    tag: tuple[str, str]  # (en, zh) search keyword
    use: tuple[str, str]  # (en, zh) second sentence of the description


class Feature(NamedTuple):
    en: str  # first sentence of the description
    zh: str
    tags: list[tuple[str, str]]  # (en, zh) search keywords


EVERYDAY_SPORT = ("Made for running, gym sessions and team sports.", "跑步、健身、球类运动都适用。")
SHOE_EVERYDAY = (
    "A versatile pair for jeans, chinos or dresses.",
    "百搭款式，配牛仔裤、休闲裤或裙子都好看。",
)

# fmt: off
TYPES: dict[str, ProductType] = {
    "tee": ProductType(
        "tee", "clothing", (49, 129), "white black grey navy red blue green yellow pink beige",
        ("t-shirt", "短袖"),
        ("An easy everyday tee to wear on its own or under a jacket.", "百搭基础款，单穿内搭都好看。"),
    ),
    "longtee": ProductType(
        "longtee", "clothing", (69, 149), "white black grey navy beige green brown",
        ("long sleeve", "长袖"), ("A layering essential for spring and autumn.", "春秋百搭打底单品。"),
    ),
    "polo": ProductType(
        "polo", "clothing", (99, 219), "white navy black blue green red", ("polo", "Polo衫"),
        ("Smart enough for the office, relaxed enough for the weekend.", "通勤休闲两相宜。"),
    ),
    "shirt": ProductType(
        "shirt", "clothing", (129, 329), "white blue navy pink grey beige black", ("shirt", "衬衫"),
        ("Tailored for a clean, sharp look at work or at the weekend.", "版型利落，上班约会都合适。"),
    ),
    "shortshirt": ProductType(
        "shortshirt", "clothing", (99, 229), "white blue beige green yellow navy",
        ("short sleeve", "短袖"),
        ("A breezy short-sleeve shirt for warm days and holidays.", "清爽短袖设计，夏日出游必备。"),
    ),
    "jeans": ProductType(
        "jeans", "clothing", (169, 399), "blue black grey", ("jeans", "牛仔裤"),
        ("Classic five-pocket styling that goes with almost everything.", "经典五袋款，百搭耐穿。"),
    ),
    "trousers": ProductType(
        "pants", "clothing", (129, 349), "beige black navy grey brown green", ("casual", "休闲"),
        ("A versatile pair for the office, travel and everyday wear.", "通勤出行皆宜，日常百搭。"),
    ),
    "joggers": ProductType(
        "joggers", "clothing", (129, 259), "black grey navy", ("joggers", "运动裤"),
        ("Tapered legs and ribbed cuffs for a clean, sporty look.", "束脚收腿设计，干净利落。"),
    ),
    "shorts": ProductType(
        "shorts", "clothing", (69, 189), "beige navy black grey blue green", ("shorts", "短裤"),
        ("Comfortable shorts for hot days, beach trips and weekends.", "夏日出游、海边度假都舒适。"),
    ),
    "dress": ProductType(
        "dress", "clothing", (159, 499), "pink black white blue red green yellow beige purple",
        ("dress", "裙子"),
        ("An easy dress for dates, holidays and everyday wear.", "约会、度假、日常通勤都能穿。"),
    ),
    "puffer": ProductType(
        "puffer", "clothing", (399, 1299), "black navy beige white green red",
        ("down jacket", "羽绒服"), ("Light and warm for freezing winter days.", "轻盈保暖，轻松应对寒冬。"),
    ),
    "padded": ProductType(
        "puffer", "clothing", (299, 599), "black navy green beige", ("padded jacket", "棉服"),
        ("A light warm layer on its own or under a coat.", "单穿或内搭都合适的轻薄保暖层。"),
    ),
    "jacket": ProductType(
        "jacket", "clothing", (199, 699), "black navy green beige grey blue", ("jacket", "夹克"),
        ("A versatile outer layer for changeable weather.", "应对多变天气的百搭外套。"),
    ),
    "coat": ProductType(
        "coat", "clothing", (499, 1299), "beige black grey brown navy", ("coat", "大衣"),
        ("A timeless coat that looks sharp over suits or knitwear.", "经典耐看，搭配西装针织都有型。"),
    ),
    "blazer": ProductType(
        "blazer", "clothing", (299, 799), "black navy grey beige", ("blazer", "西装"),
        ("Dresses up jeans or trousers in seconds.", "搭配牛仔裤或西裤都能提升气质。"),
    ),
    "hoodie": ProductType(
        "hoodie", "clothing", (129, 299), "grey black navy white green pink", ("hoodie", "卫衣"),
        ("A cosy hoodie for lazy weekends and cool evenings.", "周末居家、微凉傍晚都舒服。"),
    ),
    "sweatshirt": ProductType(
        "sweatshirt", "clothing", (129, 259), "grey black navy green", ("sweatshirt", "卫衣"),
        ("Relaxed enough for warm-ups, neat enough for the weekend.", "运动热身或周末出行都合适。"),
    ),
    "runner": ProductType(
        "runner", "shoes", (299, 499), "black white grey blue red orange pink",
        ("running shoes", "跑鞋"),
        ("Built for daily training runs and race day alike.", "日常训练和比赛都能驾驭。"),
    ),
    "sneaker": ProductType(
        "sneaker", "shoes", (199, 599), "white black grey beige", ("sneakers", "运动鞋"), SHOE_EVERYDAY
    ),
    "canvas": ProductType(
        "canvas", "shoes", (129, 269), "white black red navy", ("canvas shoes", "帆布鞋"),
        ("A classic you can wear with everything, all year round.", "经典款式，一年四季都好搭。"),
    ),
    "boot": ProductType(
        "boot", "shoes", (299, 899), "black brown beige", ("boots", "靴子"),
        ("Sturdy and stylish through autumn and winter.", "秋冬出行结实又有型。"),
    ),
    "sandal": ProductType(
        "sandal", "shoes", (99, 299), "black brown beige white", ("sandals", "凉鞋"),
        ("Easy to slip on for summer days and holidays.", "夏日出游穿脱方便。"),
    ),
    "slide": ProductType(
        "slide", "shoes", (49, 99), "white grey pink green beige", ("slippers", "拖鞋"),
        ("Easy to slip on at home, by the pool or on the beach.", "居家、泳池、海边都能穿。"),
    ),
    "flat": ProductType(
        "flat", "shoes", (199, 599), "black beige brown pink", ("flats", "单鞋"),
        ("Smart and comfortable for a full day on your feet.", "正式又舒适，久走不累。"),
    ),
    "backpack": ProductType(
        "backpack", "one", (129, 459), "black grey navy green", ("backpack", "双肩包"),
        ("Roomy compartments keep books and daily gear organised.", "多隔层设计，日常用品收纳有序。"),
    ),
    "tote": ProductType(
        "tote", "one", (79, 299), "beige black brown white", ("tote", "托特包"),
        ("Big enough for work essentials, shopping or a day out.", "容量大，通勤逛街出游都能装。"),
    ),
    "handbag": ProductType(
        "handbag", "one", (299, 999), "black brown beige red pink white", ("handbag", "手提包"),
        ("A polished bag for both work and evening outfits.", "精致有质感，通勤约会都适合。"),
    ),
    "crossbody": ProductType(
        "crossbody", "one", (99, 499), "black brown beige pink", ("crossbody", "斜挎包"),
        ("Hands-free and compact for city days and travel.", "解放双手，逛街旅行轻松出门。"),
    ),
    "wallet": ProductType(
        "wallet", "one", (79, 399), "black brown navy", ("wallet", "钱包"),
        ("Plenty of card slots and a note pocket keep essentials tidy.", "多卡位设计，卡片钞票收纳整齐。"),
    ),
    "duffel": ProductType(
        "duffel", "one", (159, 399), "black navy green grey", ("travel bag", "旅行包"),
        ("Sized for weekend trips and gym sessions.", "周末短途旅行或健身都合适。"),
    ),
    "waistpack": ProductType(
        "waistpack", "one", (59, 129), "black grey orange", ("waist bag", "腰包"),
        ("Holds your phone, keys and cards on runs and rides.", "跑步骑行时手机钥匙随身带。"),
    ),
    "cap": ProductType(
        "cap", "one", (49, 129), "black white navy beige red", ("cap", "棒球帽"),
        ("An adjustable strap gives an easy fit.", "后扣可调节，适合大多数头围。"),
    ),
    "beanie": ProductType(
        "beanie", "one", (59, 149), "black grey beige red navy", ("beanie", "毛线帽"),
        ("Keeps your head and ears warm on cold days.", "寒冷天气护耳保暖。"),
    ),
    "hat": ProductType(
        "hat", "one", (69, 259), "beige white black", ("hat", "帽子"),
        ("A finishing touch for holiday and everyday outfits.", "出游日常都能为造型加分。"),
    ),
    "scarf": ProductType(
        "scarf", "one", (79, 599), "grey red beige navy brown", ("scarf", "围巾"),
        ("Wrap it, knot it or drape it for an easy finishing touch.", "多种系法，轻松提升整体造型。"),
    ),
    "socks": ProductType(
        "socks", "one", (29, 89), "white black grey", ("socks", "袜子"),
        ("A reinforced heel and toe make them last.", "脚跟脚尖加固，耐穿不易破。"),
    ),
    "belt": ProductType(
        "belt", "one", (79, 299), "black brown", ("belt", "皮带"),
        ("The finishing touch for jeans and trousers.", "搭配牛仔裤和西裤都合适。"),
    ),
    "sunglasses": ProductType(
        "sunglasses", "one", (129, 399), "black brown", ("sunglasses", "太阳镜"),
        ("UV400 lenses for driving, travel and the beach.", "UV400防护，开车旅行海边都适用。"),
    ),
    "gloves": ProductType(
        "gloves", "one", (49, 249), "black grey brown", ("gloves", "手套"),
        ("A close fit that keeps your hands comfortable.", "贴合手型，舒适防护。"),
    ),
    "leggings": ProductType(
        "leggings", "clothing", (129, 299), "black grey navy purple pink", ("yoga", "瑜伽"),
        ("Squat-proof fabric for yoga, gym and running.", "面料不透，瑜伽健身跑步都适用。"),
    ),
    "bra": ProductType(
        "bra", "clothing", (99, 229), "black pink white purple", ("sports bra", "运动内衣"),
        ("Removable pads and a soft band for comfortable support.", "可拆卸胸垫，软质下围舒适支撑。"),
    ),
    "tracksuit": ProductType(
        "tracksuit", "clothing", (299, 599), "black navy grey", ("tracksuit", "运动套装"),
        ("A zip jacket with matching joggers for training or travel.", "外套配同款长裤，训练出行都方便。"),
    ),
    "sptee": ProductType(
        "tee", "clothing", (69, 169), "black white grey blue orange", ("gym", "健身"), EVERYDAY_SPORT
    ),
    "splong": ProductType(
        "longtee", "clothing", (99, 199), "black grey navy", ("gym", "健身"), EVERYDAY_SPORT
    ),
    "tank": ProductType(
        "tank", "clothing", (59, 129), "black white grey blue pink", ("tank top", "背心"), EVERYDAY_SPORT
    ),
    "spshorts": ProductType(
        "shorts", "clothing", (79, 199), "black navy grey blue", ("sports shorts", "运动短裤"),
        EVERYDAY_SPORT,
    ),
    "spjacket": ProductType(
        "jacket", "clothing", (199, 399), "black orange blue grey", ("running", "跑步"),
        ("Light enough to carry, warm enough for cool morning runs.", "轻便好携带，清晨跑步不怕凉。"),
    ),
    "skirt": ProductType(
        "skirt", "clothing", (99, 199), "white pink black navy", ("tennis", "网球"),
        ("Built-in shorts give freedom to move on court.", "内置安全裤，运动不走光。"),
    ),
    "mug": ProductType(
        "mug", "one", (39, 129), "white black blue green yellow pink", ("mug", "马克杯"),
        ("Perfect for your morning coffee or afternoon tea.", "早晨咖啡、下午茶都合适。"),
    ),
    "tumbler": ProductType(
        "tumbler", "one", (99, 199), "black white green pink", ("cup", "杯子"),
        ("Leak-proof lid for the commute, office or car.", "防漏杯盖，通勤办公开车都方便。"),
    ),
    "towel": ProductType(
        "towel", "one", (29, 159), "white grey blue beige pink", ("towel", "毛巾"),
        ("Absorbent and gentle for everyday use.", "吸水性强，日常使用温和。"),
    ),
    "pillow": ProductType(
        "pillow", "one", (59, 299), "grey beige blue green yellow", ("pillow", "枕头"),
        ("Adds comfort to your bed or sofa.", "床上沙发都能用，提升舒适感。"),
    ),
    "blanket": ProductType(
        "blanket", "one", (129, 499), "grey beige brown pink navy", ("blanket", "毯子"),
        ("Made for the sofa, the bed or a nap at the office.", "沙发、床上或午休都适用。"),
    ),
    "candle": ProductType(
        "candle", "one", (59, 199), "white beige purple pink", ("candle", "蜡烛"),
        ("Creates a calm, cosy mood at home.", "营造安静温馨的居家氛围。"),
    ),
}

FEATURES: dict[str, Feature] = {
    "cotton": Feature("Made from soft, breathable cotton that is gentle on skin.",
                      "柔软透气的纯棉材质，亲肤舒适。", [("cotton", "纯棉")]),
    "heavyweight": Feature("Heavyweight 260 g cotton with dropped shoulders and a boxy fit.",
                           "260克重磅纯棉，落肩宽松版型，挺括有型。", [("heavyweight", "重磅"), ("oversized", "宽松")]),
    "stretch": Feature("A touch of elastane gives easy stretch and freedom of movement.",
                       "面料含适量氨纶，弹力好，活动自如。", [("stretch", "弹力")]),
    "print": Feature("A bold print that stays bright wash after wash.",
                     "印花清晰，多次洗涤不易褪色。", [("print", "印花")]),
    "linen": Feature("A breathable linen blend that keeps you cool in hot weather.",
                     "亚麻混纺面料透气凉爽，炎热天气也清爽。", [("linen", "亚麻"), ("summer", "夏季")]),
    "quickdry": Feature("Lightweight quick-dry fabric that wicks sweat and dries fast.",
                        "轻薄速干面料，吸湿排汗，干得快。", [("quick-dry", "速干")]),
    "organic": Feature("Made from certified organic cotton grown without harsh chemicals.",
                       "采用认证有机棉，种植过程更环保。", [("organic cotton", "有机棉")]),
    "stripe": Feature("Classic yarn-dyed stripes with a crisp, timeless look.",
                      "经典色织条纹，简洁耐看。", [("stripes", "条纹")]),
    "modal": Feature("Silky modal that feels cool and smooth against the skin.",
                     "莫代尔面料丝滑冰爽，贴身穿很舒服。", [("modal", "莫代尔"), ("summer", "夏季")]),
    "waffle": Feature("A textured waffle knit that traps warmth without bulk.",
                      "华夫格肌理针织，轻薄又保暖。", [("waffle knit", "华夫格")]),
    "pique": Feature("Breathable cotton pique with a crisp ribbed collar.",
                     "透气珠地棉面料，罗纹领挺括不易变形。", [("pique", "珠地棉")]),
    "oxford": Feature("Durable oxford cotton that softens nicely with wear.",
                      "结实的牛津纺纯棉，越穿越柔软。", [("oxford", "牛津纺")]),
    "noniron": Feature("A non-iron finish keeps it crisp straight out of the wash.",
                       "免烫工艺，洗后依然平整挺括。", [("non-iron", "免烫"), ("business", "商务")]),
    "satin": Feature("Fluid satin with a soft sheen that drapes beautifully.",
                     "缎面光泽柔和，垂感出众。", [("satin", "缎面")]),
    "denim": Feature("Cut from sturdy cotton denim that fades nicely over time.",
                     "结实的纯棉牛仔布，越穿越有味道。", [("denim", "牛仔")]),
    "stretchdenim": Feature("Stretch denim that hugs your shape and keeps it all day.",
                            "弹力牛仔面料，贴合身形，久穿不松垮。", [("denim", "牛仔"), ("stretch", "弹力")]),
    "flannel": Feature("Brushed flannel that feels soft and warm.",
                       "磨毛法兰绒，柔软又暖和。", [("flannel", "法兰绒"), ("warm", "保暖")]),
    "corduroy": Feature("Soft corduroy with a vintage feel for autumn and winter.",
                        "柔软灯芯绒面料，复古感十足，适合秋冬。", [("corduroy", "灯芯绒"), ("retro", "复古")]),
    "chiffon": Feature("Light, airy chiffon that moves with you.",
                       "轻盈飘逸的雪纺面料，走动间很灵动。", [("chiffon", "雪纺"), ("summer", "夏季")]),
    "microfibre": Feature("Ultra-fine microfibre soaks up water fast and dries in no time.",
                          "超细纤维吸水快，干得也快。", [("quick-dry", "速干"), ("absorbent", "吸水")]),
    "bamboo": Feature("Bamboo fibre is naturally soft, breathable and quick to dry.",
                      "竹纤维天然柔软，透气速干。", [("bamboo", "竹纤维")]),
    "chambray": Feature("Light chambray with the look of denim and the feel of a cotton shirt.",
                        "轻薄青年布，有牛仔的质感，穿着却像棉衬衫一样舒适。", [("chambray", "青年布")]),
    "seersucker": Feature("Puckered seersucker sits away from the skin to keep you cool.",
                          "泡泡纱面料不贴身，夏天穿更凉快。", [("seersucker", "泡泡纱"), ("summer", "夏季")]),
    "twill": Feature("Tough cotton twill with plenty of useful pockets.",
                     "耐磨斜纹棉布，多口袋设计很实用。", [("workwear", "工装"), ("pockets", "多口袋")]),
    "poplin": Feature("Crisp cotton poplin that looks fresh all day.",
                      "挺括纯棉府绸，一整天都清爽利落。", [("poplin", "府绸")]),
    "drape": Feature("Fluid, drapey fabric that flatters and resists creasing.",
                     "垂感面料显瘦有型，不易起皱。", [("drape", "垂感")]),
    "wool": Feature("A warm wool blend that holds its shape.",
                    "保暖羊毛混纺，挺括不易变形。", [("wool", "羊毛"), ("winter", "冬季")]),
    "fleecelined": Feature("A brushed fleece lining keeps the cold out.",
                           "内里加绒，冬天穿也不冷。", [("fleece-lined", "加绒"), ("winter", "冬季")]),
    "icesilk": Feature("Cool-touch ice silk that stays comfortable in summer heat.",
                       "冰丝面料触感清凉，炎热夏天也舒适。", [("ice silk", "冰丝"), ("summer", "夏季")]),
    "knit": Feature("A cosy knit that is warm without feeling heavy.",
                    "温暖的针织质地，保暖又不厚重。", [("knit", "针织"), ("warm", "保暖")]),
    "velvet": Feature("Plush velvet with a rich, soft sheen.",
                      "丝绒质感细腻，光泽高级。", [("velvet", "丝绒")]),
    "lace": Feature("Delicate lace over a soft lining.",
                    "精致蕾丝搭配柔软内衬，优雅大方。", [("lace", "蕾丝"), ("party", "派对")]),
    "jacquard": Feature("Jacquard fabric with a subtle woven pattern and a mandarin collar.",
                        "提花面料暗纹精致，搭配经典立领。", [("qipao", "旗袍"), ("jacquard", "提花")]),
    "sweat": Feature("Soft cotton-blend jersey with a brushed inside.",
                     "柔软棉质卫衣面料，内里磨毛更亲肤。", [("cotton", "纯棉"), ("casual", "休闲")]),
    "fleece": Feature("Soft polar fleece that is light, warm and quick to dry.",
                      "柔软摇粒绒，轻盈保暖，干得快。", [("fleece", "抓绒"), ("warm", "保暖")]),
    "down": Feature("Filled with 90% duck down for serious warmth at a light weight.",
                    "90%白鸭绒填充，轻盈又保暖。", [("down", "羽绒"), ("winter", "冬季")]),
    "waterproof": Feature("Waterproof construction keeps you dry through rain and puddles.",
                          "防水设计，雨天出行不怕湿。", [("waterproof", "防水")]),
    "trench": Feature("Water-repellent cotton gabardine with a belted waist.",
                      "防泼水棉质华达呢，配腰带收腰显瘦。", [("trench", "风衣"), ("classic", "经典")]),
    "windproof": Feature("Windproof and light, it packs into its own pocket.",
                         "防风轻薄，可收纳进自身口袋。", [("windproof", "防风"), ("lightweight", "轻薄")]),
    "leather": Feature("Crafted from genuine leather that softens and ages beautifully.",
                       "精选头层牛皮，越用越有质感。", [("leather", "真皮")]),
    "pu": Feature("Soft, durable faux leather that wipes clean easily.",
                  "柔软耐用的PU皮革，污渍轻松擦净。", [("vegan leather", "PU皮")]),
    "nylon": Feature("Light, tear-resistant nylon that shrugs off light rain.",
                     "轻便耐磨尼龙面料，小雨也不怕。", [("nylon", "尼龙"), ("lightweight", "轻便")]),
    "tweed": Feature("Textured tweed with frayed edges for a polished look.",
                     "粗花呢面料搭配毛边设计，优雅有气质。", [("tweed", "小香风")]),
    "quilted": Feature("Diamond quilting gives a classic, structured look.",
                       "经典菱格绗缝，立体有型。", [("quilted", "菱格")]),
    "softshell": Feature("Stretchy softshell that blocks wind and light rain.",
                         "弹力软壳面料，防风防泼水。", [("softshell", "软壳"), ("outdoor", "户外")]),
    "baseball": Feature("A wool-blend body with contrast sleeves and ribbed trims.",
                        "羊毛混纺衣身搭配撞色袖，经典罗纹收口。", [("varsity", "棒球服"), ("retro", "复古")]),
    "mesh": Feature("An engineered mesh upper keeps feet cool mile after mile.",
                    "工程网面鞋面，透气不闷脚。", [("breathable", "透气"), ("lightweight", "轻量")]),
    "cushion": Feature("A thick, springy foam midsole cushions every stride.",
                       "加厚回弹中底，每一步都有缓冲。", [("cushioning", "缓震")]),
    "carbon": Feature("A full-length carbon plate and responsive foam for a fast toe-off.",
                      "全掌碳板搭配高回弹中底，推进力强。", [("carbon plate", "碳板"), ("racing", "竞速")]),
    "trail": Feature("Grippy lugs and a protective toe cap handle rocky trails.",
                     "深齿防滑大底和护趾设计，轻松应对山路。", [("trail", "越野"), ("non-slip", "防滑")]),
    "stability": Feature("A firm medial post gives extra support for overpronators.",
                         "内侧稳定支撑设计，适合容易足内翻的跑者。", [("support", "支撑"), ("cushioning", "缓震")]),
    "flyknit": Feature("A sock-like knit upper that flexes with your foot.",
                       "一体飞织鞋面，像袜子一样贴合。", [("knit", "飞织"), ("lightweight", "轻便")]),
    "platform": Feature("A 4 cm platform adds height without losing comfort.",
                        "4厘米厚底，增高又舒适。", [("platform", "厚底"), ("height boost", "增高")]),
    "chunky": Feature("Layered panels and a chunky sole for a retro look.",
                      "多层拼接搭配厚底，复古感十足。", [("chunky", "老爹鞋"), ("retro", "复古")]),
    "suede": Feature("A soft suede upper on a grippy rubber sole.",
                     "柔软麂皮鞋面，配防滑橡胶底。", [("suede", "麂皮")]),
    "canvas": Feature("Durable cotton canvas that is easy to look after.",
                      "耐磨纯棉帆布，好打理。", [("canvas", "帆布")]),
    "soft": Feature("A padded insole and soft lining for all-day comfort.",
                    "软垫鞋垫和柔软内里，久穿舒适。", [("comfort", "舒适")]),
    "grip": Feature("A grippy rubber outsole holds firm on wet surfaces.",
                    "防滑橡胶大底，湿滑路面也抓地。", [("non-slip", "防滑")]),
    "eva": Feature("A thick, cloud-soft EVA sole that feels like walking on air.",
                   "加厚EVA软底，脚感软弹如踩云朵。", [("non-slip", "防滑"), ("soft", "软底")]),
    "laptop": Feature("A padded sleeve fits laptops up to 15.6 inches.",
                      "独立加厚电脑仓，可放15.6英寸笔记本。", [("laptop", "电脑包"), ("commute", "通勤")]),
    "outdoor": Feature("A ventilated back panel and hip belt for long hikes.",
                       "透气背板和可调节腰带，长途徒步更省力。", [("hiking", "登山"), ("outdoor", "户外")]),
    "straw": Feature("Hand-woven straw that is light and breezy for summer.",
                     "手工草编，轻盈透气，夏日感满满。", [("straw", "草编"), ("summer", "夏季")]),
    "gym": Feature("A separate wet pocket keeps damp kit away from clean clothes.",
                   "独立干湿分离仓，湿衣物与干净衣物分开放。", [("gym", "健身"), ("sports", "运动")]),
    "sport": Feature("Light and secure, it stays put while you move.",
                     "轻便贴合，运动时稳固不晃动。", [("sports", "运动")]),
    "uv": Feature("UPF 50+ fabric blocks strong summer sun.",
                  "UPF50+防晒面料，抵御夏日强烈紫外线。", [("sun protection", "防晒"), ("summer", "夏季")]),
    "retro": Feature("Round metal frames with a vintage feel.",
                     "复古圆形金属框，文艺范十足。", [("retro", "复古")]),
    "cashmere": Feature("A cashmere blend that is incredibly soft and warm.",
                        "羊绒混纺，软糯又保暖。", [("cashmere", "羊绒"), ("winter", "冬季")]),
    "silk": Feature("Pure mulberry silk with a smooth, light touch.",
                    "100%桑蚕丝，顺滑轻盈。", [("silk", "真丝")]),
    "merino": Feature("Merino wool regulates temperature and resists odour.",
                      "美利奴羊毛调节温度，不易产生异味。", [("merino", "美利奴"), ("hiking", "徒步")]),
    "polarized": Feature("Polarized lenses cut glare from roads and water.",
                         "偏光镜片有效减少路面和水面反光。", [("polarized", "偏光"), ("driving", "开车")]),
    "touchscreen": Feature("Conductive fingertips let you use your phone with them on.",
                           "指尖可触屏，不用摘手套也能玩手机。", [("touchscreen", "触屏"), ("winter", "冬季")]),
    "compression": Feature("A compression fit supports muscles and helps recovery.",
                           "压缩贴合设计，支撑肌肉、帮助恢复。", [("compression", "紧身"), ("sports", "运动")]),
    "seamless": Feature("Seamless knit construction means no chafing on long workouts.",
                        "无缝针织工艺，长时间运动也不磨皮。", [("seamless", "无缝"), ("gym", "健身")]),
    "bramed": Feature("Medium support for yoga, pilates and gym sessions.",
                      "中强度支撑，适合瑜伽、普拉提和健身。", [("medium support", "中强度")]),
    "brahigh": Feature("High-impact support with wide straps for running and jumping.",
                       "高强度防震，宽肩带设计，跑跳都稳定。", [("high impact", "高强度"), ("shockproof", "防震")]),
    "ceramic": Feature("Glazed ceramic that is microwave and dishwasher safe.",
                       "釉面陶瓷，可微波炉加热，可洗碗机清洗。", [("ceramic", "陶瓷")]),
    "stoneware": Feature("Handmade stoneware with a soft matte glaze.",
                         "手工粗陶，哑光釉面质感温润。", [("stoneware", "粗陶"), ("handmade", "手作")]),
    "glass": Feature("Double-wall borosilicate glass keeps drinks hot and hands cool.",
                     "双层高硼硅玻璃，隔热不烫手。", [("glass", "玻璃"), ("heat-resistant", "耐热")]),
    "insulated": Feature("Vacuum-insulated steel keeps drinks hot for 6 hours.",
                         "真空不锈钢内胆，保温6小时。", [("insulated", "保温"), ("stainless steel", "不锈钢")]),
    "enamel": Feature("Classic enamel that is tough enough for camping trips.",
                      "经典搪瓷材质，露营出行也耐用。", [("enamel", "搪瓷"), ("retro", "复古")]),
    "memory": Feature("Slow-rebound memory foam supports your neck as you sleep.",
                      "慢回弹记忆棉，睡觉时贴合支撑颈椎。", [("memory foam", "记忆棉"), ("neck support", "护颈")]),
    "downalt": Feature("Fluffy microfibre fill with the feel of down, minus the allergens.",
                       "羽丝绒填充，蓬松柔软，不易过敏。", [("soft", "柔软"), ("hypoallergenic", "防过敏")]),
    "weighted": Feature("Evenly spread glass beads give a calming, hug-like pressure.",
                        "均匀分布的玻璃珠，像拥抱一样安心助眠。", [("weighted", "重力被"), ("sleep", "助眠")]),
    "soy": Feature("Natural soy wax with a clean, even burn of about 40 hours.",
                   "天然大豆蜡，燃烧均匀，约可燃40小时。", [("soy wax", "大豆蜡"), ("scented", "香薰")]),
    "lavender": Feature("A calming lavender scent to help you unwind before bed.",
                        "舒缓薰衣草香气，睡前帮助放松。", [("lavender", "薰衣草"), ("sleep", "助眠")]),
}

# fmt: on

# One product per line: type | English name | Chinese name | feature | [colours] | [price]
# Products without colours or price get them at random from the type's palette and range.
ITEMS: dict[str, str] = {
    "TS": """
tee | Classic Cotton Crew T-shirt | 经典纯棉圆领T恤 | cotton | red white
tee | Men's Heavyweight Oversized T-shirt | 男士重磅宽松短袖T恤 | heavyweight | black white
tee | Women's Slim-Fit V-Neck T-shirt | 女士修身V领短袖T恤 | stretch | white pink
tee | Retro Sunset Graphic T-shirt | 复古落日印花短袖T恤 | print | red black
tee | Linen Blend Summer T-shirt | 亚麻混纺夏季短袖T恤 | linen
tee | Men's Quick-Dry Crew T-shirt | 男款速干圆领短袖T恤 | quickdry
tee | Women's Cropped Boxy T-shirt | 女士短款宽松T恤 | cotton
tee | Organic Cotton Pocket T-shirt | 有机棉口袋短袖T恤 | organic
tee | Breton Striped T-shirt | 法式海魂条纹短袖T恤 | stripe | navy red
tee | Couple's Matching Print T-shirt | 情侣款印花短袖T恤 | print
tee | Modal Soft-Touch T-shirt | 莫代尔冰感短袖T恤 | modal
tee | Henley Button T-shirt | 亨利领纽扣短袖T恤 | cotton
tee | Men's Plain Crew T-shirt | 男士纯色圆领短袖T恤 | cotton | red navy
tee | Women's Ribbed Fitted T-shirt | 女士罗纹修身短袖T恤 | stretch
tee | Red Embroidered Logo T-shirt | 红色刺绣logo短袖T恤 | cotton | red
longtee | Men's Long-Sleeve Cotton T-shirt | 男士纯棉长袖T恤 | cotton
longtee | Waffle Knit Long-Sleeve T-shirt | 华夫格长袖T恤 | waffle
longtee | Women's Mock-Neck Long-Sleeve Top | 女士半高领长袖打底衫 | stretch
longtee | Raglan Baseball Long-Sleeve T-shirt | 插肩棒球长袖T恤 | cotton
polo | Men's Pique Polo Shirt | 男士珠地棉Polo衫 | pique
polo | Women's Slim Polo Shirt | 女士修身短袖Polo衫 | stretch
polo | Quick-Dry Golf Polo | 速干高尔夫Polo衫 | quickdry
polo | Striped Knit Polo | 条纹针织Polo衫 | stripe
""",
    "SH": """
shirt | Men's Slim Oxford Shirt | 男士修身牛津纺衬衫 | oxford | white blue
shirt | Non-Iron Business Dress Shirt | 免烫商务正装衬衫 | noniron | white blue
shirt | Women's Satin Blouse | 女士垂感缎面衬衫 | satin
shirt | Relaxed Linen Shirt | 亚麻宽松休闲衬衫 | linen
shirt | Western Denim Shirt | 西部风牛仔衬衫 | denim | blue
shirt | Flannel Check Shirt | 法兰绒格子衬衫 | flannel | red green
shortshirt | Hawaiian Print Short-Sleeve Shirt | 夏威夷印花短袖衬衫 | print
shortshirt | Cuban Collar Short-Sleeve Shirt | 古巴领短袖衬衫 | linen
shirt | Women's Striped Boyfriend Shirt | 女士条纹宽松男友风衬衫 | stripe | blue pink
shirt | Corduroy Overshirt | 灯芯绒衬衫外套 | corduroy | brown beige
shirt | Men's Stretch Work Shirt | 男士弹力通勤衬衫 | stretch
shirt | Women's Chiffon Bow Blouse | 女士雪纺飘带衬衫 | chiffon
shirt | Mandarin Collar Cotton Shirt | 立领纯棉衬衫 | cotton
shortshirt | Bamboo Fibre Short-Sleeve Shirt | 竹纤维短袖衬衫 | bamboo
shirt | Chambray Button-Down Shirt | 青年布纽扣领衬衫 | chambray | blue
shirt | Women's Puff-Sleeve Blouse | 女士泡泡袖衬衫 | cotton
shortshirt | Seersucker Short-Sleeve Shirt | 泡泡纱短袖衬衫 | seersucker
shirt | French Cuff Dress Shirt | 法式袖扣正装衬衫 | noniron
shirt | Utility Pocket Overshirt | 工装口袋衬衫外套 | twill
shirt | Women's Oversized Poplin Shirt | 女士宽松府绸衬衫 | poplin
shortshirt | Men's Short-Sleeve Oxford Shirt | 男士短袖牛津纺衬衫 | oxford
shortshirt | Printed Resort Camp Shirt | 印花度假风短袖衬衫 | print
""",
    "PA": """
jeans | Men's Slim Straight Jeans | 男士修身直筒牛仔裤 | denim | blue black
jeans | Women's High-Rise Skinny Jeans | 女士高腰修身牛仔裤 | stretchdenim | blue black
jeans | Women's Wide-Leg Jeans | 女士高腰阔腿牛仔裤 | denim | blue
jeans | Relaxed Tapered Jeans | 宽松锥形牛仔裤 | denim | blue grey
jeans | Women's Distressed Boyfriend Jeans | 女士破洞男友风牛仔裤 | denim | blue
trousers | Men's Stretch Chinos | 男士弹力休闲裤 | stretch | beige navy
trousers | Slim-Fit Cotton Chinos | 修身纯棉卡其裤 | cotton | beige brown
trousers | Women's Wide-Leg Trousers | 女士垂感阔腿裤 | drape
trousers | Utility Cargo Pants | 多口袋工装裤 | twill
joggers | Cotton Joggers | 纯棉束脚卫裤 | sweat
trousers | Tailored Suit Trousers | 商务修身西裤 | wool
trousers | Linen Drawstring Pants | 亚麻抽绳休闲裤 | linen
trousers | Corduroy Straight Pants | 灯芯绒直筒裤 | corduroy
trousers | Fleece-Lined Winter Pants | 加绒加厚保暖休闲裤 | fleecelined
trousers | Ice Silk Cropped Trousers | 冰丝薄款九分裤 | icesilk
trousers | Quick-Dry Hiking Pants | 户外速干登山裤 | quickdry
shorts | Men's Denim Shorts | 男士牛仔短裤 | denim | blue
shorts | Chino Shorts | 休闲五分短裤 | cotton
shorts | Women's High-Waist Linen Shorts | 女士高腰亚麻短裤 | linen
shorts | Beach Board Shorts | 沙滩速干短裤 | quickdry
shorts | Cargo Shorts | 工装多口袋短裤 | twill
trousers | Women's Cropped Culottes | 女士九分阔腿裙裤 | drape
""",
    "DR": """
dress | Floral Midi Wrap Dress | 碎花中长款裹身连衣裙 | chiffon | pink blue
dress | Little Black Dress | 赫本风小黑裙 | stretch | black
dress | Linen Shirt Dress | 亚麻衬衫式连衣裙 | linen
dress | Tiered Cotton Maxi Dress | 纯棉层叠长裙 | cotton | pink white
dress | Knit Sweater Dress | 针织毛衣连衣裙 | knit
dress | Satin Slip Dress | 缎面吊带连衣裙 | satin | pink black
dress | Polka Dot Tea Dress | 复古波点茶歇裙 | print | navy red
dress | Denim Pinafore Dress | 牛仔背带连衣裙 | denim | blue
dress | Sleeveless A-Line Dress | 无袖A字连衣裙 | cotton
dress | Puff-Sleeve Square-Neck Dress | 方领泡泡袖连衣裙 | cotton
dress | Cotton T-shirt Dress | 宽松纯棉T恤裙 | cotton
dress | Lace Evening Gown | 蕾丝晚礼服长裙 | lace | | 699
dress | Beach Holiday Sundress | 海边度假吊带长裙 | chiffon
dress | Pleated Chiffon Midi Dress | 百褶雪纺中长连衣裙 | chiffon
dress | Velvet Party Dress | 丝绒派对连衣裙 | velvet
dress | Long-Sleeve Shirt Dress | 长袖衬衫连衣裙 | poplin
dress | Ribbed Bodycon Dress | 罗纹修身包臀连衣裙 | stretch
dress | Modern Qipao Dress | 改良旗袍连衣裙 | jacquard
dress | Smocked Floral Summer Dress | 收腰碎花夏季连衣裙 | print
dress | Hooded Sweatshirt Dress | 连帽卫衣裙 | sweat
dress | Sleeveless Knit Vest Dress | 无袖针织背心裙 | knit
dress | Corduroy Pinafore Dress | 灯芯绒背带裙 | corduroy
dress | Pink Ruffle Mini Dress | 粉色荷叶边短款连衣裙 | chiffon | pink
""",
    "JK": """
puffer | Men's Lightweight Down Jacket | 男士轻薄羽绒服 | down | black navy
puffer | Women's Long Hooded Down Coat | 女士长款连帽羽绒服 | down | black beige | 1599
puffer | Cropped Puffer Down Jacket | 短款面包羽绒服 | down
jacket | Waterproof Hardshell Jacket | 防水冲锋衣 | waterproof | | 599
jacket | 3-in-1 Outdoor Jacket | 三合一户外冲锋衣 | waterproof | | 899
coat | Classic Trench Coat | 经典双排扣风衣 | trench | beige
jacket | Packable Windbreaker | 轻薄可收纳防风夹克 | windproof
jacket | Denim Trucker Jacket | 经典牛仔外套 | denim | blue
jacket | Sherpa-Lined Denim Jacket | 羊羔绒内里牛仔外套 | denim | blue
jacket | Polar Fleece Jacket | 摇粒绒抓绒外套 | fleece
jacket | Half-Zip Fleece Pullover | 半拉链抓绒套头衫 | fleece
jacket | Faux Leather Biker Jacket | 仿皮机车夹克 | pu | black brown
jacket | Nylon Bomber Jacket | 飞行员夹克 | nylon
coat | Wool Blend Overcoat | 羊毛混纺大衣 | wool
blazer | Women's Cropped Tweed Jacket | 女士短款小香风外套 | tweed
jacket | Varsity Baseball Jacket | 复古棒球服夹克 | baseball
hoodie | Zip-Up Hoodie | 拉链连帽卫衣外套 | sweat | grey black
jacket | Corduroy Trucker Jacket | 灯芯绒夹克 | corduroy
blazer | Men's Casual Blazer | 男士休闲西装外套 | stretch
blazer | Women's Oversized Blazer | 女士宽松西装外套 | drape
padded | Quilted Liner Jacket | 菱格轻薄棉服 | quilted
jacket | Softshell Hiking Jacket | 户外软壳外套 | softshell
""",
    "SO": """
runner | Men's Lightweight Breathable Running Shoes | 男款轻量透气跑鞋 | mesh | black blue | 399
runner | Women's Cushioned Running Shoes | 女款缓震跑步鞋 | cushion | pink white | 459
runner | Carbon Plate Racing Shoes | 碳板竞速跑鞋 | carbon | orange | 899
runner | Trail Running Shoes | 越野跑鞋 | trail | green black | 599
runner | Everyday Road Running Shoes | 日常路跑训练跑鞋 | mesh | grey | 299
runner | Men's Stability Running Shoes | 男款稳定支撑跑鞋 | stability | navy | 499
runner | Women's Knit Running Shoes | 女款飞织轻便跑鞋 | flyknit | white purple | 349
runner | Max Cushion Marathon Shoes | 超厚底马拉松缓震跑鞋 | cushion | white | 699
sneaker | Classic White Leather Sneakers | 经典真皮小白鞋 | leather | white
sneaker | Women's Platform Sneakers | 女款厚底增高板鞋 | platform | white pink
sneaker | Retro Chunky Dad Sneakers | 复古老爹鞋 | chunky | white grey
sneaker | Men's Low-Top Skate Shoes | 男款低帮滑板鞋 | suede | black white
sneaker | Slip-On Knit Sneakers | 一脚蹬飞织休闲鞋 | flyknit
canvas | Classic High-Top Canvas Shoes | 经典高帮帆布鞋 | canvas | white black
canvas | Low-Top Canvas Shoes | 低帮百搭帆布鞋 | canvas
boot | Men's Leather Chelsea Boots | 男士真皮切尔西靴 | leather | black brown
boot | Women's Block-Heel Ankle Boots | 女士粗跟短靴 | suede
boot | Waterproof Hiking Boots | 防水户外登山靴 | waterproof
boot | Lace-Up Leather Work Boots | 系带真皮马丁靴 | leather
sandal | Women's Strappy Sandals | 女士一字带凉鞋 | leather
sandal | Men's Outdoor Sport Sandals | 男士户外沙滩凉鞋 | grip
slide | Cloud EVA Slides | 云朵软底拖鞋 | eva
flat | Men's Leather Penny Loafers | 男士真皮乐福鞋 | leather
flat | Women's Ballet Flats | 女士芭蕾平底单鞋 | soft
""",
    "BG": """
backpack | Everyday Laptop Backpack | 大容量电脑双肩包 | laptop | black grey
backpack | Waterproof Commuter Backpack | 防水通勤双肩包 | waterproof | black
backpack | Women's Mini Nylon Backpack | 女士迷你尼龙双肩包 | nylon
backpack | Roll-Top Travel Backpack | 卷口旅行双肩包 | waterproof
backpack | Canvas School Backpack | 学生帆布书包双肩包 | canvas
backpack | 25L Hiking Daypack | 户外登山包25L | outdoor
tote | Canvas Shopping Tote | 帆布托特包购物袋 | canvas | beige black | 59
tote | Leather Work Tote | 真皮通勤托特包 | leather | | 599
tote | Straw Beach Tote | 草编沙滩托特包 | straw | beige
handbag | Structured Top-Handle Handbag | 女士质感手提包 | leather
handbag | Quilted Chain Handbag | 菱格链条手提包 | quilted
handbag | Leather Bucket Bag | 真皮水桶包 | leather
crossbody | Small Leather Crossbody Bag | 小号真皮斜挎包 | leather
crossbody | Men's Nylon Sling Bag | 男士尼龙胸包斜挎包 | nylon
crossbody | Phone Crossbody Pouch | 手机斜挎小包 | pu
crossbody | Saddle Crossbody Bag | 马鞍斜挎包 | leather
wallet | Men's Bifold Leather Wallet | 男士真皮短款钱包 | leather
wallet | Women's Long Zip Wallet | 女士长款拉链钱包 | pu
wallet | Slim Card Holder | 超薄卡包 | leather
duffel | Weekender Duffel Bag | 周末旅行行李包 | canvas
duffel | Gym Duffel Bag | 干湿分离健身包 | gym
waistpack | Running Waist Pack | 跑步运动腰包 | sport
""",
    "AC": """
cap | Classic Cotton Baseball Cap | 经典纯棉棒球帽 | cotton
hat | Sun Protection Bucket Hat | 防晒渔夫帽 | uv
beanie | Wool Knit Beanie | 羊毛针织毛线帽 | wool
cap | Quick-Dry Running Cap | 速干跑步遮阳帽 | quickdry
scarf | Cashmere Blend Scarf | 羊绒混纺围巾 | cashmere
scarf | Silk Square Scarf | 真丝小方巾 | silk
scarf | Chunky Knit Scarf | 粗针织保暖围巾 | knit
socks | Cotton Crew Socks 5-Pack | 纯棉中筒袜5双装 | cotton
socks | No-Show Ankle Socks 6-Pack | 隐形船袜6双装 | cotton
socks | Merino Hiking Socks | 美利奴羊毛徒步袜 | merino
belt | Men's Leather Belt | 男士真皮自动扣皮带 | leather | black brown
belt | Women's Thin Leather Belt | 女士细款真皮腰带 | leather
belt | Canvas Web Belt | 帆布编织腰带 | canvas
sunglasses | Polarized Sunglasses | 偏光太阳镜 | polarized
sunglasses | Retro Round Sunglasses | 复古圆框墨镜 | retro
sunglasses | Sport Cycling Sunglasses | 运动骑行太阳镜 | sport
gloves | Touchscreen Knit Gloves | 触屏针织手套 | touchscreen
gloves | Fleece-Lined Leather Gloves | 加绒真皮保暖手套 | leather
gloves | Half-Finger Cycling Gloves | 骑行半指手套 | sport
hat | Wide-Brim Straw Hat | 宽檐草帽 | straw | beige
hat | Wool Fedora Hat | 羊毛礼帽 | wool
socks | Compression Running Socks | 运动压缩袜 | compression
""",
    "SP": """
leggings | High-Waist Yoga Leggings | 高腰提臀瑜伽裤 | stretch | black grey
leggings | Flare Yoga Pants | 高腰喇叭瑜伽裤 | stretch
leggings | Seamless Workout Leggings | 无缝健身紧身裤 | seamless
bra | Medium Support Sports Bra | 中强度运动内衣 | bramed
bra | High-Impact Running Sports Bra | 高强度防震运动文胸 | brahigh
tracksuit | Men's Zip Tracksuit | 男士运动套装 | quickdry
tracksuit | Women's Velour Tracksuit | 女士丝绒运动套装 | velvet
spshorts | Men's 2-in-1 Running Shorts | 男士二合一跑步短裤 | quickdry
spshorts | Women's Quick-Dry Running Shorts | 女士速干跑步短裤 | quickdry
hoodie | Classic Pullover Hoodie | 经典套头连帽卫衣 | sweat | grey black
hoodie | Heavyweight Oversized Hoodie | 重磅宽松连帽卫衣 | heavyweight | grey
sweatshirt | Crewneck Sweatshirt | 圆领运动卫衣 | sweat
tank | Men's Gym Tank Top | 男士健身背心 | quickdry
tank | Women's Racerback Tank | 女士工字背运动背心 | quickdry
sptee | Quick-Dry Training T-shirt | 速干训练短袖T恤 | quickdry
splong | Long-Sleeve Compression Top | 长袖紧身速干衣 | compression
joggers | Men's Training Joggers | 男士运动束脚裤 | stretch
joggers | Women's Fleece-Lined Sweatpants | 女士加绒运动裤 | fleecelined
spjacket | Lightweight Running Jacket | 轻薄跑步夹克 | windproof
skirt | Tennis Skirt | 网球半身裙 | stretch
spshorts | Padded Cycling Shorts | 骑行短裤 | compression
spshorts | Basketball Shorts | 宽松篮球短裤 | quickdry
""",
    "HM": """
mug | Ceramic Coffee Mug 350ml | 陶瓷咖啡马克杯350ml | ceramic
mug | Matte Stoneware Mug | 粗陶哑光马克杯 | stoneware
mug | Double-Wall Glass Mug | 双层隔热玻璃杯 | glass
tumbler | Insulated Travel Mug | 不锈钢保温随行杯 | insulated
mug | Couple Mug Set of 2 | 情侣马克杯两只装 | ceramic
mug | Retro Enamel Camping Mug | 复古搪瓷杯 | enamel
towel | Cotton Bath Towel | 纯棉加厚浴巾 | cotton
towel | Microfibre Face Towel 3-Pack | 超细纤维速干洗脸毛巾3条装 | microfibre
towel | Bamboo Fibre Hand Towel | 竹纤维毛巾 | bamboo
towel | Cotton Kitchen Towel Set | 纯棉厨房擦手巾套装 | cotton
pillow | Memory Foam Neck Pillow | 记忆棉护颈枕头 | memory
pillow | Down Alternative Pillow | 羽丝绒枕头 | downalt
pillow | Linen Cushion Cover | 亚麻抱枕套 | linen
pillow | Velvet Throw Pillow | 丝绒靠垫抱枕 | velvet
blanket | Knitted Throw Blanket | 针织沙发盖毯 | knit
blanket | Flannel Fleece Blanket | 法兰绒毛毯 | flannel
blanket | Cooling Summer Blanket | 夏季冰丝凉感毯 | icesilk
blanket | Weighted Blanket | 重力减压被 | weighted
blanket | Tassel Cotton Throw | 流苏纯棉沙发毯 | cotton
candle | Soy Wax Scented Candle | 大豆蜡香薰蜡烛 | soy
candle | Lavender Aromatherapy Candle | 薰衣草助眠香薰蜡烛 | lavender | purple
candle | Scented Candle Gift Set of 3 | 香薰蜡烛礼盒3只装 | soy
""",
}

# --- Images ---------------------------------------------------------------------------
# Shapes are lists of primitives in a 0-100 coordinate box. Fill codes: c = product colour,
# s = shade of it, w = off-white, k = outline colour, o = flame orange, b = background,
# n = no fill.
Point = tuple[float, float]


def sym(half: list[Point]) -> list[Point]:
    """Mirror a left-half outline (running from x=50 to x=50) into a full polygon."""
    return half + [(100 - x, y) for x, y in reversed(half[1:-1])]


def pair(prim: tuple) -> list[tuple]:
    """A primitive and its mirror image across x=50 (for polygons and lines)."""
    kind, pts, *rest = prim
    return [prim, (kind, [(100 - x, y) for x, y in pts], *rest)]


def dots(xys: list[Point], r: float = 1.3, fill: str = "k") -> list[tuple]:
    return [("e", (x - r, y - r, x + r, y + r), fill) for x, y in xys]


# fmt: off
TEE = sym([(50, 24), (44, 22), (40, 16), (30, 18), (12, 34), (21, 46), (29, 40), (29, 86), (50, 86)])
LONG = sym([(50, 24), (44, 22), (40, 16), (30, 18), (19, 28), (9, 74), (19, 77), (29, 42),
            (29, 86), (50, 86)])
COLLAR = pair(("p", [(40, 15), (50, 25), (43, 31), (36, 19)], "c"))
PLACKET = [("l", [(50, 25), (50, 86)], "k", 1.2), *dots([(50, y) for y in (32, 44, 56, 68, 80)])]
LAPELS = pair(("p", [(40, 15), (50, 46), (44, 48), (35, 22)], "s"))
PANTS = sym([(50, 12), (30, 12), (26, 88), (44, 88), (50, 36)])
SHORTS = sym([(50, 24), (30, 24), (25, 66), (45, 68), (50, 46)])
JACKET = [("p", LONG, "c"), ("r", (38, 11, 62, 20), 3, "s"), ("l", [(50, 20), (50, 86)], "k", 1.5),
          ("r", (29, 82, 71, 87), 1, "s"), *pair(("l", [(34, 60), (38, 70)], "k", 1.2))]
HOOD = [("e", (33, 4, 67, 34), "s"), ("e", (41, 12, 59, 30), "k")]
HEM = [("r", (29, 81, 71, 86), 1, "s")]

SHAPES: dict[str, list[tuple]] = {
    "tee": [("p", TEE, "c")],
    "longtee": [("p", LONG, "c"), *HEM],
    "polo": [("p", TEE, "c"), *COLLAR, ("l", [(50, 25), (50, 40)], "k", 1.2), *dots([(50, 32)])],
    "tank": [("p", sym([(50, 26), (44, 24), (42, 10), (36, 10), (34, 30), (28, 42), (28, 86),
                        (50, 86)]), "c")],
    "shirt": [("p", LONG, "c"), *COLLAR, *PLACKET, ("r", (33, 36, 43, 46), 1, "n")],
    "shortshirt": [("p", TEE, "c"), *COLLAR, *PLACKET],
    "jacket": JACKET,
    "tracksuit": [*JACKET, *pair(("l", [(22, 31), (13, 73)], "w", 2))],
    "puffer": [HOOD[0], *JACKET, *[("l", [(29, y), (71, y)], "s", 1.2) for y in (34, 46, 58, 70)]],
    "hoodie": [*HOOD, ("p", LONG, "c"), *HEM, ("p", [(36, 60), (64, 60), (68, 78), (32, 78)], "s"),
               *pair(("l", [(46, 24), (45, 42)], "w", 1.5))],
    "sweatshirt": [("p", LONG, "c"), *HEM, ("l", [(40, 17), (44, 23), (50, 25), (56, 23), (60, 17)],
                                            "s", 2)],
    "blazer": [("p", LONG, "c"), *LAPELS, *dots([(50, 58), (50, 70)], 1.6),
               *pair(("l", [(32, 68), (42, 68)], "k", 1.2))],
    "coat": [("p", sym([(50, 30), (44, 18), (40, 14), (30, 17), (19, 28), (9, 80), (19, 83),
                        (28, 44), (27, 94), (50, 94)]), "c"), *LAPELS,
             ("r", (27, 56, 73, 61), 1, "s"), *dots([(43, 48), (57, 48), (43, 70), (57, 70)], 1.6)],
    "bra": [("p", sym([(50, 42), (44, 34), (40, 14), (37, 14), (33, 36), (30, 44), (30, 66),
                       (50, 66)]), "c"), ("r", (30, 56, 70, 66), 2, "s")],
    "pants": [("p", PANTS, "c"), ("r", (30, 12, 70, 18), 1, "s"), ("l", [(50, 18), (50, 30)], "k", 1)],
    "jeans": [("p", PANTS, "c"), ("r", (30, 12, 70, 18), 1, "s"), ("l", [(50, 18), (50, 32)], "w", 1),
              *pair(("l", [(32, 18), (36, 24), (42, 18)], "w", 1))],
    "joggers": [("p", PANTS, "c"), ("r", (30, 12, 70, 19), 2, "s"),
                *pair(("l", [(27, 82), (44, 82)], "s", 3)), *pair(("l", [(48, 19), (46, 28)], "w", 1))],
    "leggings": [("p", sym([(50, 12), (33, 12), (37, 90), (46, 90), (50, 34)]), "c"),
                 ("r", (33, 12, 67, 21), 2, "s")],
    "shorts": [("p", SHORTS, "c"), ("r", (30, 24, 70, 30), 1, "s")],
    "skirt": [("p", sym([(50, 26), (36, 26), (22, 76), (50, 78)]), "c"), ("r", (35, 21, 65, 28), 1, "s"),
              *pair(("l", [(43, 30), (38, 76)], "s", 1))],
    "dress": [("p", sym([(50, 28), (44, 27), (41, 12), (38, 12), (37, 30), (40, 46), (20, 90),
                         (50, 90)]), "c"), ("r", (39, 44, 61, 49), 1, "s")],
    "runner": [("p", [(10, 64), (10, 46), (13, 38), (20, 35), (28, 40), (36, 40), (42, 34), (47, 36),
                      (52, 44), (64, 49), (76, 52), (86, 56), (92, 62), (92, 66)], "c"),
               ("r", (6, 62, 95, 76), 6, "w"), ("l", [(8, 69), (93, 69)], "s", 1),
               ("l", [(24, 58), (40, 50), (58, 56), (72, 52)], "w", 3),
               *[("l", [(x, y), (x + 5, y - 4)], "k", 1.2) for x, y in ((44, 42), (49, 45), (54, 48))]],
    "sneaker": [("p", [(10, 64), (10, 46), (18, 41), (28, 43), (35, 45), (40, 38), (46, 40), (52, 47),
                       (66, 51), (80, 54), (88, 58), (92, 64)], "c"),
                ("r", (6, 62, 95, 74), 3, "w"), ("l", [(26, 56), (62, 58)], "s", 2),
                *dots([(46, 44), (51, 47), (56, 49)])],
    "canvas": [("p", [(12, 64), (12, 22), (28, 20), (32, 24), (38, 44), (54, 50), (72, 53), (84, 56),
                      (92, 64)], "c"),
               ("p", [(74, 53), (84, 56), (92, 64), (74, 64)], "w"), ("r", (8, 62, 95, 75), 3, "w"),
               ("l", [(10, 68), (93, 68)], "s", 1), ("e", (16, 34, 24, 42), "w"),
               *dots([(32, 29), (34, 36), (37, 43)])],
    "boot": [("p", [(20, 10), (46, 10), (46, 48), (60, 52), (76, 56), (86, 62), (88, 70), (20, 70)], "c"),
             ("p", [(33, 14), (43, 14), (41, 46), (35, 46)], "s"), ("r", (18, 68, 90, 78), 2, "k"),
             ("r", (20, 4, 27, 14), 2, "c")],
    "sandal": [("r", (6, 64, 94, 74), 4, "s"), ("p", [(56, 65), (60, 48), (78, 48), (84, 65)], "c"),
               ("p", [(16, 65), (18, 44), (30, 44), (34, 65)], "c"), ("l", [(30, 52), (60, 54)], "c", 3)],
    "slide": [("r", (6, 60, 94, 74), 6, "s"), ("p", [(40, 61), (46, 38), (82, 42), (88, 61)], "c")],
    "flat": [("p", [(8, 66), (9, 54), (16, 50), (46, 55), (60, 51), (74, 53), (86, 57), (93, 63),
                    (93, 67)], "c"),
             ("l", [(16, 51), (32, 55), (46, 55)], "k", 2), ("l", [(52, 54), (66, 54)], "s", 3),
             ("r", (6, 65, 95, 72), 2, "k")],
    "backpack": [("a", (40, 6, 60, 26), 180, 360, 3), ("r", (24, 16, 76, 90), 16, "c"),
                 ("r", (32, 54, 68, 84), 8, "s"), ("l", [(34, 62), (66, 62)], "k", 1.2),
                 ("a", (30, 22, 70, 44), 200, 340, 1)],
    "tote": [("a", (30, 12, 48, 56), 180, 360, 2.5), ("a", (52, 12, 70, 56), 180, 360, 2.5),
             ("p", [(20, 34), (80, 34), (86, 90), (14, 90)], "c"), ("l", [(18, 44), (82, 44)], "s", 2)],
    "handbag": [("a", (32, 14, 68, 58), 180, 360, 3.5), ("r", (18, 36, 82, 86), 10, "c"),
                ("p", [(18, 42), (82, 42), (82, 58), (50, 66), (18, 58)], "s"),
                ("e", (46, 59, 54, 67), "w")],
    "crossbody": [*pair(("l", [(22, 4), (32, 48)], "k", 2.5)), ("r", (24, 44, 76, 84), 10, "c"),
                  ("r", (24, 44, 76, 66), 10, "s"), ("e", (47, 61, 53, 67), "w")],
    "wallet": [("r", (14, 28, 86, 76), 8, "c"), ("r", (14, 28, 86, 50), 8, "s"), ("e", (46, 44, 54, 52), "w")],
    "duffel": [("a", (32, 20, 68, 64), 180, 360, 3), ("r", (8, 40, 92, 84), 20, "c"),
               ("e", (10, 44, 26, 80), "s"), ("e", (74, 44, 90, 80), "s"),
               ("l", [(26, 47), (74, 47)], "k", 1.5)],
    "waistpack": [("l", [(2, 53), (98, 53)], "k", 3), ("r", (22, 34, 78, 72), 16, "c"),
                  ("l", [(30, 46), (70, 46)], "k", 1.2), ("r", (4, 49, 12, 57), 1, "s")],
    "cap": [("e", (50, 52, 96, 66), "s"), ("c", (20, 26, 80, 88), 180, 360, "c"),
            ("l", [(50, 28), (50, 56)], "s", 1), ("e", (47, 23, 53, 29), "s")],
    "beanie": [("e", (41, 8, 59, 26), "c"), ("c", (24, 20, 76, 96), 180, 360, "c"),
               ("r", (22, 54, 78, 76), 4, "s"),
               *[("l", [(x, 57), (x, 73)], "c", 1) for x in range(28, 76, 6)]],
    "hat": [("e", (8, 54, 92, 74), "c"), ("r", (30, 28, 70, 64), 10, "c"), ("r", (30, 50, 70, 58), 0, "s")],
    "scarf": [("p", [(50, 28), (64, 28), (72, 76), (58, 78)], "s"), ("r", (30, 12, 70, 30), 8, "c"),
              ("p", [(36, 28), (50, 28), (48, 86), (34, 86)], "c"),
              *[("l", [(x, 86), (x - 1, 92)], "k", 1) for x in (36, 40, 44, 47)],
              *[("l", [(x, 78), (x + 1, 84)], "k", 1) for x in (60, 64, 68)]],
    "socks": [("p", [(38, 10), (60, 10), (60, 62), (80, 70), (84, 82), (74, 90), (40, 80), (36, 66)], "c"),
              ("r", (37, 10, 61, 20), 2, "s"), ("p", [(74, 72), (82, 76), (84, 82), (76, 88)], "s")],
    "belt": [("r", (4, 44, 96, 58), 3, "c"), ("r", (18, 38, 36, 64), 3, "k"), ("r", (22, 42, 32, 60), 1, "b"),
             ("l", [(22, 51), (34, 51)], "k", 2), *dots([(60, 51), (68, 51), (76, 51)], 1.5, "s")],
    "sunglasses": [("l", [(12, 44), (4, 40)], "c", 3), ("l", [(88, 44), (96, 40)], "c", 3),
                   ("e", (12, 36, 46, 66), "s"), ("e", (54, 36, 88, 66), "s"),
                   ("l", [(45, 45), (50, 42), (55, 45)], "c", 3)],
    "gloves": [("p", [(32, 62), (16, 46), (11, 51), (28, 76)], "c"), ("r", (30, 44, 70, 90), 10, "c"),
               *[("r", (x, y, x + 9, 54), 4, "c") for x, y in ((30, 18), (40, 10), (50, 12), (60, 20))],
               ("r", (30, 80, 70, 92), 3, "s")],
    "mug": [("e", (56, 36, 86, 72), "c"), ("e", (64, 44, 78, 64), "b"), ("r", (18, 24, 66, 86), 8, "c"),
            ("e", (18, 19, 66, 31), "s")],
    "tumbler": [("r", (32, 22, 68, 90), 8, "c"), ("r", (29, 10, 71, 24), 4, "s"), ("r", (32, 48, 68, 56), 0, "s")],
    "towel": [("r", (14, 60, 86, 82), 8, "c"), ("r", (18, 40, 82, 62), 8, "c"), ("r", (22, 20, 78, 42), 8, "c"),
              *[("l", [(x0, y), (x1, y)], "w", 2) for x0, x1, y in ((14, 86, 76), (18, 82, 56), (22, 78, 36))]],
    "pillow": [("p", [(12, 22), (50, 27), (88, 22), (84, 50), (88, 78), (50, 73), (12, 78), (16, 50)], "c"),
               ("r", (22, 32, 78, 68), 12, "n"), ("e", (47, 47, 53, 53), "s")],
    "blanket": [("r", (12, 50, 88, 84), 6, "c"), ("r", (12, 32, 88, 56), 6, "c"),
                *[("l", [(x, 34), (x, 82)], "s", 2) for x in (30, 50, 70)],
                *[("l", [(14, y), (86, y)], "s", 2) for y in (44, 68)],
                *[("l", [(88, y), (94, y)], "k", 1) for y in range(54, 84, 5)]],
    "candle": [("r", (30, 40, 70, 88), 6, "c"), ("r", (36, 56, 64, 76), 3, "w"), ("l", [(50, 40), (50, 32)], "k", 1.5),
               ("p", [(50, 12), (56, 26), (50, 33), (44, 26)], "o")],
}
# fmt: on

OUTLINE = (50, 50, 58)
SS = 2  # supersampling factor for smooth edges


def mix(rgb: RGB, target: RGB, amount: float) -> RGB:
    r, g, b = (round(c + (t - c) * amount) for c, t in zip(rgb, target, strict=True))
    return (r, g, b)


def shade(rgb: RGB) -> RGB:
    """A darker tone for details; very dark colours get a lighter one instead."""
    return mix(rgb, (255, 255, 255), 0.25) if sum(rgb) < 200 else mix(rgb, (0, 0, 0), 0.2)


def background(rgb: RGB) -> RGB:
    if min(rgb) > 235:  # white products sit on a cool grey
        return (222, 228, 236)
    return mix(rgb, (255, 255, 255), 0.78)


def draw_image(shape: str, colour: str, code: str, path: Path) -> None:
    rgb = COLOURS[colour][1]
    bg = background(rgb)
    fills = {
        "c": rgb,
        "s": shade(rgb),
        "w": (250, 250, 246),
        "k": OUTLINE,
        "o": (247, 150, 40),
        "b": bg,
        "n": None,
    }
    size, margin = 320 * SS, 24 * SS
    k = (size - 2 * margin) / 100
    img = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(img)

    def xy(pts: list[Point]) -> list[Point]:
        return [(margin + x * k, margin + y * k) for x, y in pts]

    def box(b: tuple[float, float, float, float]) -> list[Point]:
        return xy([(b[0], b[1]), (b[2], b[3])])

    ow = 2 * SS
    for prim in SHAPES[shape]:
        kind = prim[0]
        if kind == "p":
            draw.polygon(xy(prim[1]), fill=fills[prim[2]], outline=OUTLINE, width=ow)
        elif kind == "e":
            draw.ellipse(box(prim[1]), fill=fills[prim[2]], outline=OUTLINE, width=ow)
        elif kind == "r":
            draw.rounded_rectangle(
                box(prim[1]), radius=prim[2] * k, fill=fills[prim[3]], outline=OUTLINE, width=ow
            )
        elif kind == "c":
            draw.chord(
                box(prim[1]), prim[2], prim[3], fill=fills[prim[4]], outline=OUTLINE, width=ow
            )
        elif kind == "l":
            draw.line(xy(prim[1]), fill=fills[prim[2]], width=round(prim[3] * k), joint="curve")
        elif kind == "a":  # a handle or strap: outlined arc in the product colour
            width = round(prim[4] * k)
            draw.arc(box(prim[1]), prim[2], prim[3], fill=OUTLINE, width=width + 2 * ow)
            (x0, y0), (x1, y1) = box(prim[1])
            inner = (x0 + ow, y0 + ow, x1 - ow, y1 - ow)  # the arc grows inwards from its box
            draw.arc(inner, prim[2], prim[3], fill=rgb, width=width)
    img = img.resize((320, 320), Image.Resampling.LANCZOS)
    ImageDraw.Draw(img).text(
        (312, 312), code, fill=(90, 90, 100), anchor="rd", font=ImageFont.load_default(size=13)
    )
    img = img.quantize(colors=24, dither=Image.Dither.NONE)
    img.save(path, optimize=True)


# --- Catalog ---------------------------------------------------------------------------


def nice_price(rng: random.Random, low: int, high: int) -> int:
    """A shop-style price ending in 9, e.g. 79, 129, 1299."""
    step = 100 if high > 1000 else 10
    return max(29, round(rng.uniform(low, high) / step) * step - 1)


def size_run(ptype: ProductType, name_zh: str, n_colours: int) -> list[str]:
    """Sizes for one colour, chosen by audience (女/男 in the name), at most 8 variants."""
    if ptype.sizing == "one":
        return [""]
    audience = "女" if "女" in name_zh else "男" if "男" in name_zh else ""
    run = list(SIZE_RUNS[ptype.sizing][audience])
    while len(run) * n_colours > 8:  # trim the extremes, largest first
        del run[-1 if len(run) % 2 else 0]
    return run


def stock(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.05:
        return 0
    if roll < 0.10:
        return rng.randint(1, 3)
    return rng.randint(5, 120)


def make_product(rng: random.Random, prefix: str, index: int, line: str) -> tuple[dict, str]:
    """Build one catalog entry from an ITEMS line; also return its image shape."""
    key, name_en, name_zh, feature_key, colours, price = (
        [f.strip() for f in line.split("|")] + [""] * 2
    )[:6]
    ptype, feature = TYPES[key], FEATURES[feature_key]
    code = f"{prefix}-{index:03d}"
    max_colours = 3 if ptype.sizing == "one" else 2
    palette = ptype.palette.split()
    picked = colours.split() or rng.sample(palette, rng.randint(1, min(max_colours, len(palette))))
    base = int(price) if price else nice_price(rng, *ptype.price)
    xxl_extra = 10 if rng.random() < 0.5 else 0
    variants = []
    for colour in picked:
        for size in size_run(ptype, name_zh, len(picked)):
            amount = base + (xxl_extra if size == "XXL" else 0)
            variants.append(
                {
                    "sku": "-".join(p for p in (code, COLOURS[colour][0], size) if p),
                    "color": colour,
                    "size": size,
                    "price": f"{amount}.00",
                    "currency": "CNY",
                    "stock": stock(rng),
                }
            )
    tags: list[str] = []
    for pair_ in [*feature.tags, ptype.tag]:
        tags += [t for t in pair_ if t not in tags]
    cat_en, cat_zh = CATEGORIES[prefix]
    return {
        "code": code,
        "name_en": name_en,
        "name_zh": name_zh,
        "description_en": f"{feature.en} {ptype.use[0]}",
        "description_zh": feature.zh + ptype.use[1],
        "category_en": cat_en,
        "category_zh": cat_zh,
        "brand": rng.choice(BRANDS[prefix]),
        "image": f"images/{code}.png",
        "tags": tags[:6],
        "variants": variants,
    }, ptype.shape


def main() -> None:
    rng = random.Random(42)
    built = []
    for prefix, block in ITEMS.items():
        lines = [ln for ln in block.strip().splitlines() if ln.strip()]
        built += [make_product(rng, prefix, i, ln) for i, ln in enumerate(lines, 1)]
    products = [product for product, _ in built]
    IMAGE_DIR.mkdir(exist_ok=True)
    for old in IMAGE_DIR.glob("*.png"):
        old.unlink()
    for product, shape in built:
        draw_image(shape, product["variants"][0]["color"], product["code"], HERE / product["image"])
    text = json.dumps({"products": products}, ensure_ascii=False, indent=1)
    CATALOG_PATH.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(products)} products to {CATALOG_PATH}")


if __name__ == "__main__":
    main()
