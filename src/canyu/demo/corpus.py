"""The demo's own corpus: short Chinese items about a phone brand, written for the demo.

Items are built from templates × products, so the stream is varied but reproducible
(seeded). Each item has a category that decides the channel kind it arrives as.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

PRODUCTS = ["小米14", "红米Note13", "小米手环8", "MIUI 15", "小米电视S", "小米平板6", "Redmi K70"]

TEMPLATES: dict[str, list[str]] = {
    "question": [
        "{p}支持无线充电吗？想入手了",
        "请问{p}什么时候能更新到最新系统？",
        "{p}的保修期是多久？在官网买的",
        "@小米公司 {p}和上一代比续航提升了多少？",
        "{p}能插内存卡吗？求解答",
        "{p}有没有教育优惠？学生党问一下",
        "{p}的NFC可以刷公交卡吗？哪些城市支持",
    ],
    "complaint": [
        "{p}用了一个月屏幕就出现绿线，太失望了[怒]",
        "{p}发热太严重了，打个游戏烫手，客服也不回复",
        "买的{p}一直没发货，订单显示已付款五天了[怒][怒]",
        "{p}更新后耗电特别快，一晚上掉了30%，能不能修一下",
        "{p}信号太差，地铁里完全没网[泪]",
        "为什么{p}的系统广告这么多？关也关不掉",
    ],
    "after_sales": [
        "我的{p}摔坏了，售后换屏多少钱？",
        "{p}七天无理由退货怎么申请？找不到入口",
        "{p}充电口接触不良，保修期内可以免费修吗",
        "送修的{p}已经两周了还没寄回来，单号查不到",
        "{p}收到就是坏的，开不了机，要求换新",
    ],
    "order_logistics": [
        "{p}订单号显示已揽收三天了，物流一直不动",
        "双十一买的{p}什么时候发货？",
        "{p}能改收货地址吗？刚下单填错了",
        "快递说{p}已签收，可我根本没收到",
    ],
    "feature_request": [
        "希望{p}能加一个通话录音自动转文字的功能",
        "建议{p}的相机加入专业模式的RAW格式",
        "{p}能不能出一个深色主题的桌面？晚上看太亮",
        "求{p}支持应用双开的更多应用，微信双开不够用",
        "希望{p}的负一屏可以自定义卡片顺序",
    ],
    "praise": [
        "{p}拍照真的绝了，夜景比我之前的手机好太多[哈哈]",
        "刚拿到{p}，手感很好，系统也流畅，为发烧而生！",
        "{p}续航太给力了，重度使用一天半[赞]",
        "感谢小米客服，{p}的问题十分钟就解决了，点赞",
        "米粉一枚，{p}又是性价比之王[good]",
    ],
}

FOLLOW_UPS = [
    "还有人在吗？等了好久了",
    "补充一下，我的系统版本是最新的",
    "谢谢，已经解决了！",
    "还是不行，能再帮我看看吗",
    "我已经私信了订单号，麻烦查一下",
    "好的，我试试看",
]

NAMES = [
    "米粉小王",
    "数码老李",
    "爱拍照的猫",
    "北京吃货",
    "小米发烧友",
    "上海打工人",
    "深夜码农",
    "旅行的鱼",
    "米黑老张",
    "学生党小陈",
    "广州阿强",
    "成都小美",
    "科技宅",
    "安静的风",
    "跑步的兔子",
    "电影迷",
    "宝妈日记",
    "程序员老周",
    "摄影师阿杰",
    "杭州小雨",
]

KIND_BY_CATEGORY = {
    "question": ("mention", "comment", "direct", "email"),
    "complaint": ("mention", "comment", "direct"),
    "after_sales": ("direct", "email", "comment"),
    "order_logistics": ("direct", "email", "comment"),
    "feature_request": ("comment", "mention", "email"),
    "praise": ("mention", "comment"),
}


@dataclass(frozen=True)
class CorpusItem:
    category: str
    text: str


def all_items() -> list[CorpusItem]:
    """Every template with every product: several hundred distinct items."""
    return [
        CorpusItem(category, template.format(p=product))
        for category, templates in TEMPLATES.items()
        for template in templates
        for product in PRODUCTS
    ]


def stream(seed: int = 7) -> Iterator[CorpusItem]:
    """Items in a shuffled, endless order."""
    rng = random.Random(seed)
    items = all_items()
    while True:
        rng.shuffle(items)
        yield from items
