"""The sample brand's fixed vocabulary: products, people, places and couriers.

Everything here is plain data so the native (per-order) and the bulk (vectorised) generators
draw from the same world. All text must be encodable in GBK, because the Pinduoduo export is.
"""

from __future__ import annotations

from dataclasses import dataclass

# (sku, title, unit price in yuan). A tea-and-teaware brand: cheap consumables and pricier gear
# give amounts a realistic spread.
PRODUCTS: tuple[tuple[str, str, str], ...] = (
    ("TEA-LJ-250", "明前龙井茶 250g 礼盒装", "168.00"),
    ("TEA-LJ-100", "明前龙井茶 100g 罐装", "79.90"),
    ("TEA-BLC-100", "洞庭碧螺春 100g", "88.00"),
    ("TEA-PE-357", "云南普洱熟茶饼 357g", "129.00"),
    ("TEA-BC-200", "福鼎白茶 寿眉 200g", "99.00"),
    ("TEA-TGY-250", "安溪铁观音 浓香型 250g", "69.90"),
    ("TEA-DHP-150", "武夷大红袍 150g", "158.00"),
    ("TEA-MJ-50", "茉莉花茶 袋泡 50包", "39.90"),
    ("CUP-TI-450", "钛保温杯 450ml 月白", "239.00"),
    ("CUP-TI-600", "钛保温杯 600ml 墨黑", "269.00"),
    ("CUP-GL-300", "双层玻璃杯 300ml", "59.00"),
    ("SET-GF-6", "功夫茶具套装 六件", "199.00"),
    ("SET-TR-1", "便携旅行茶具 一壶两杯", "129.00"),
    ("POT-ZS-200", "宜兴紫砂壶 200ml", "368.00"),
    ("POT-GL-800", "耐热玻璃煮茶壶 800ml", "89.00"),
    ("ACC-TP-1", "竹制茶盘", "149.00"),
    ("ACC-CL-6", "茶巾 6条装", "19.90"),
    ("ACC-FL-1", "不锈钢茶滤", "15.90"),
    ("GIFT-CNY-1", "新春茶礼 双罐", "298.00"),
    ("GIFT-MID-1", "中秋茶礼 四罐", "458.00"),
)

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN_NAMES = (
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰",
    "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "浩然", "子涵", "欣怡", "梓萱",
    "宇轩", "思远", "一诺", "雨桐", "俊杰", "晓东", "佳怡", "志强", "海燕", "建华", "文博",
    "婷婷", "丹丹", "晨", "昊", "萌", "悦", "琳", "鑫", "凯", "雪", "倩", "博文",
)  # fmt: skip

# Real (province, city, district) triples. Municipalities are left out on purpose: platforms
# write them inconsistently (上海 / 上海市 / 上海市 上海市), which would make the clean world's
# addresses differ between sources for a reason that is not an anomaly.
REGIONS: tuple[tuple[str, str, str], ...] = (
    ("浙江省", "杭州市", "西湖区"),
    ("浙江省", "杭州市", "滨江区"),
    ("浙江省", "杭州市", "余杭区"),
    ("浙江省", "宁波市", "鄞州区"),
    ("浙江省", "温州市", "鹿城区"),
    ("浙江省", "绍兴市", "柯桥区"),
    ("江苏省", "南京市", "鼓楼区"),
    ("江苏省", "苏州市", "吴中区"),
    ("江苏省", "苏州市", "姑苏区"),
    ("江苏省", "无锡市", "梁溪区"),
    ("江苏省", "南通市", "崇川区"),
    ("广东省", "广州市", "天河区"),
    ("广东省", "广州市", "海珠区"),
    ("广东省", "深圳市", "南山区"),
    ("广东省", "深圳市", "福田区"),
    ("广东省", "珠海市", "香洲区"),
    ("广东省", "佛山市", "禅城区"),
    ("四川省", "成都市", "武侯区"),
    ("四川省", "成都市", "锦江区"),
    ("湖北省", "武汉市", "洪山区"),
    ("湖北省", "武汉市", "江汉区"),
    ("湖南省", "长沙市", "岳麓区"),
    ("山东省", "青岛市", "市南区"),
    ("山东省", "济南市", "历下区"),
    ("福建省", "厦门市", "思明区"),
    ("福建省", "福州市", "鼓楼区"),
    ("河南省", "郑州市", "金水区"),
    ("安徽省", "合肥市", "蜀山区"),
    ("陕西省", "西安市", "雁塔区"),
    ("辽宁省", "沈阳市", "和平区"),
)
# Provinces the sample config lists in `no_delivery_regions`; clean orders never go there.
NO_DELIVERY_REGIONS: tuple[tuple[str, str, str], ...] = (
    ("西藏自治区", "拉萨市", "城关区"),
    ("新疆维吾尔自治区", "乌鲁木齐市", "天山区"),
)

STREETS = (
    "文三路", "中山路", "人民路", "解放路", "建设路", "长江路", "和平路", "学院路", "南京路",
    "延安路", "新华路", "滨江大道", "科技园路", "朝阳路", "青年路", "东风路", "工业大道",
    "丰收路", "湖滨路", "花园街",
)  # fmt: skip
COMMUNITIES = (
    "阳光小区", "翠苑一区", "金色家园", "锦绣花园", "碧桂园", "万科城", "绿城桂花园",
    "世纪新城", "星河湾", "滨江花园", "龙湖天街公寓", "保利香槟国际",
)  # fmt: skip

MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "155", "156", "157", "158", "159", "166", "176", "177", "180", "181", "182", "185",
    "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip


@dataclass(frozen=True)
class Carrier:
    """How each system writes one courier, and what its waybill numbers look like."""

    code: str  # canonical code (ordersync.sources.carriers)
    channel_name: str  # Taobao / PDD / Douyin / OMS exports
    wms_name: str  # the warehouse's short name
    kuaidi100: str  # Kuaidi100 company code, used by the scan-event export
    prefix: str
    digits: int
    weight: float
    hub: str  # a sorting centre named in scan texts


CARRIERS: tuple[Carrier, ...] = (
    Carrier("zto", "中通快递", "中通", "zhongtong", "78", 12, 0.30, "杭州转运中心"),
    Carrier("yto", "圆通速递", "圆通", "yuantong", "YT", 13, 0.20, "金华转运中心"),
    Carrier("yunda", "韵达快递", "韵达", "yunda", "43", 11, 0.14, "义乌分拨中心"),
    Carrier("sto", "申通快递", "申通", "shentong", "77", 13, 0.10, "杭州萧山转运中心"),
    Carrier("jt", "极兔速递", "极兔", "jtexpress", "JT", 13, 0.12, "嘉兴转运中心"),
    Carrier("sf", "顺丰速运", "顺丰", "shunfeng", "SF", 13, 0.14, "杭州萧山集散中心"),
)
CARRIER_BY_CODE = {c.code: c for c in CARRIERS}
# The courier-scan export covers every carrier but SF: SF parcels must come out "not checked".
SCANNED_CARRIERS = ("zto", "yto", "yunda", "sto", "jt")

SHOP_NAMES = {
    "taobao": "山间茶舍旗舰店",
    "pdd": "山间茶舍官方店",
    "douyin": "山间茶舍抖音小店",
    "shopify": "Shanjian Tea (Shopify)",
}
PLATFORM_NAMES = {"taobao": "淘宝", "pdd": "拼多多", "douyin": "抖音", "shopify": "Shopify"}
