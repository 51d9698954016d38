"""One search for the whole Space (issue 15): indexing rate, query latency and precision, on SQLite
and PostgreSQL, side by side with WordPress's own search on the same blog posts.

    python bench/search.py [--docs 1.0 | --quick] [--engine sqlite|postgresql|both] [--skip-wordpress]
                           [--queries 200] [--seed 15] [--postgres ADMIN_URL]

With WordPress (the default) it needs the local stack (deploy/dev/stack.sh), so run it under the
stack lock: `SPACE_KEEP_STACK=1 flock /work/stack.lock .venv/bin/python bench/search.py`.

The corpus is generated from a fixed seed: 10,000 blog posts and 50,000 forum posts (`--docs`
scales both) in English, Spanish, Arabic (half of it with its vowel marks written) and some
Chinese, with tags, categories, authors, dates over four years and view counts. Into the blog
posts the bench plants the relevant posts of PLANTED (36 queries, 10 relevant posts each) and
posts that only look relevant to a poor search (the word inside another word, one mention in a
long post, the words of a phrase far apart).

(1) each engine: every document indexed one `index()` call at a time (documents/s), then 200
    mixed queries (words, phrases, exclusions, tags:, #category, @author, after:/before:, in:,
    lang:, order:latest/views, Arabic, Chinese) through `search()`: p50/p95/max, after a warm-up
    pass. Goal: p95 <= 50 ms on SQLite at 60,000 documents.
(2) precision at 10 of the PLANTED queries on the blog posts (`in:blog`: the 10,000 WordPress holds).
(3) WordPress 6.1 of the stack, as a second site with its own MariaDB database (see `WordPress`):
    the same 10,000 blog posts, inserted with SQL; `/?s=` (the theme's search page) and
    `/wp-json/wp/v2/search` timed and their first 10 results scored like (2); the bridge's
    `/search.json` (its Flask app over loopback HTTP) timed on the same queries.
    Goal: precision at 10 above WordPress's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import itertools
import json
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge import logs, store  # noqa: E402
from sync.search.engines import Document, for_database  # noqa: E402
from sync.search.query import parse  # noqa: E402
from sync.search.settings import SearchSettings  # noqa: E402
from sync.search.text import normalise  # noqa: E402

# -- vocabulary ------------------------------------------------------------------------------------
# Filler words the posts are written with. Some hold a planted word inside them on purpose
# (when/then hold "hen", bowl/knowledge "owl", important/want "ant", marzo/amar "mar"): a search by
# substring finds them, a search by word must not.
EN = """the of and to in is it that for on was with as be at by this had not are but from or have
an they which one you were all we when there can has more if will no so what out up into them about
then some would could time these two may first any like now my over such our man me even most made
after also did many before must through back years where much your way well down should because
each just those people how too little state good very make world still own see men work long get
here between both life being under never day same another know while last might us great old year
off come since against go came right used take three states himself few house use during without
again place around however home small found thought went say part once general high upon school
every does got united left number course war until always away something fact though water less
public put think almost hand enough far took head yet government system better set told nothing
night end why called didn eyes find going look asked later knew point next program city business
give group toward young days let room president side social given present several order national
possible rather second face per among form important often things looking early white case john
become large big need four within felt along children saw best church ever least power development
light thing seemed family interest want members others mind country area done turned although open
god service certain kind problem began different door thus help sense means whole matter perhaps
itself york times law human line above name example action company hands local show whether five
history gave today either act feet across taken past quite anything seen having death week field
experience really money body plant knowledge bowl start giant elegant kitchen strengthen growl
meeting editors article photo upload community event project wiki page edit draft review source
summer winter spring autumn river mountain garden bridge station train music festival museum""".split()

ES = """el la de que y en a los se del las un por con no una su para es al lo como más pero sus le ya
o este sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde todo nos
durante todos uno les ni contra otros ese eso ante ellos e esto mí antes algunos qué unos yo otro
otras otra él tanto esa estos mucho quienes nada muchos cual poco ella estar estas algunas algo
nosotros mi mis tú te ti tu tus ellas nosotras vosotros vosotras os mío mía míos mías tuyo tuya
año años día días tiempo vida mundo casa país parte gobierno hombre mujer forma historia trabajo
gente momento grupo lugar caso punto manera agua noche ciudadanía semana mes comunidad proyecto
artículo página edición fotografía evento reunión voluntario encuentro verano invierno primavera
otoño río montaña jardín puente estación tren música fiesta museo escuela universidad estudiante
profesor clase pregunta respuesta idea programa sitio noticia imagen vídeo idioma español palabra
frase cuento novela poesía arte cultura ciencia medicina salud deporte equipo partido jugador ley
economía dinero precio empresa comercio industria energía ambiente tecnología ordenador teléfono
internet red datos información editor debate opinión problema solución método resultado estudio
informe grande pequeño nuevo viejo bonito rápido lento importante fácil difícil marzo amar
mariposa primero hablar decir hacer llevar dejar seguir encontrar llamar venir pensar salir volver
tomar conocer vivir sentir tratar mirar contar empezar esperar buscar existir entrar trabajar
escribir perder producir ocurrir entender pedir recibir recordar terminar permitir aparecer""".split()

AR = """من في على إلى عن مع هذا هذه ذلك التي الذي كان كانت يكون بعد قبل حتى لكن أيضا كل بعض عند بين
خلال حول نحو اليوم غدا أمس الآن دائما أحيانا كثيرا قليلا جدا فقط المجتمع الناس العالم الحياة العمل
الوقت المدينة القرية البيت الطريق السيارة الماء الخبز الطعام الشاي الصباح المساء الليل النهار
الأسبوع الشهر السنة الصيف الشتاء الربيع الخريف الجو المطر الريح الجبل النهر الشجرة الوردة الطالب
المعلم الأستاذ الدرس الجامعة الصف السؤال الجواب الفكرة المشروع البرنامج الموقع الصفحة المقال الخبر
الصورة الفيديو الموسيقى اللغة العربية الترجمة الكلمة الجملة القصة الرواية الشعر الفن الثقافة
التاريخ العلم الطب الصحة الرياضة الكرة الفريق المباراة اللاعب الحكومة القانون الاقتصاد المال السعر
الشركة التجارة الصناعة الزراعة الطاقة البيئة التقنية الحاسوب الهاتف الإنترنت الشبكة البيانات
المعلومات ويكيبيديا المحرر المقالات المشاركة التطوع اللقاء الاجتماع النقاش الرأي المشكلة الحل
الطريقة النتيجة البحث الدراسة التقرير كبير صغير جديد قديم جميل سريع بطيء مهم سهل صعب قال ذهب جاء
رأى عمل تعلم فهم شارك ساعد بدأ انتهى وجد أراد يمكن يجب نريد نحتاج""".split()

ZH = """我们 你们 他们 今天 明天 昨天 时候 现在 已经 因为 所以 但是 如果 可以 应该 需要 知道 觉得
大家 朋友 老师 学生 学校 大学 工作 公司 生活 社区 项目 文章 编辑 维基 百科 照片 活动 会议 讨论
问题 办法 结果 研究 报告 历史 文化 科学 音乐 电影 艺术 体育 比赛 球队 经济 市场 价格 技术 电脑
手机 网络 数据 信息 语言 中文 翻译 汉字 故事 小说 诗歌 春天 夏天 秋天 冬天 天气 下雨 山上 河边
花园 公园 火车 车站 地铁 北京 上海 广州 成都 西安 重要 简单 困难 漂亮 快乐 开始 结束 参加 帮助
学习 发现 希望 喜欢 准备 选择 东西 地方 世界 国家 人民 城市 农村 环境 能源 健康 医生 医院""".split()

TAGS = ["events", "wikipedia", "commons", "wikidata", "photography", "education", "glam", "outreach",
        "translation", "women-in-red", "hackathon-notes", "meetup", "grants", "tools", "bots", "policy",
        "history", "science", "culture", "sports", "music", "food", "travel", "nature", "cities",
        "languages", "arabic", "spanish", "chinese", "newsletter", "board", "elections", "licensing",
        "accessibility", "mobile", "design", "research", "statistics", "volunteers-corner", "archives",
        "maps", "books", "libraries-weekly", "museums", "open-data", "technical", "help", "announcements",
        "feedback", "help-wanted", "local", "regional", "youth", "seniors", "diversity", "code",
        "release", "security", "privacy", "social"]
CATEGORIES = ["Announcements", "Community News", "Events", "Education", "Technology", "Culture",
              "Photography", "Languages", "Help Desk", "Projects", "Governance", "Off Topic"]
FIRST = ["Ada", "Bruno", "Carmen", "Dalia", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jamal", "Kenji",
         "Layla", "Mateo", "Nadia", "Omar", "Paula", "Qing", "Rania", "Sofia", "Tariq", "Uma", "Victor",
         "Wei", "Ximena", "Yusuf", "Zainab", "Li", "Hana", "Diego", "Amira"]
LAST = ["Lovelace", "Garcia", "Haddad", "Chen", "Okafor", "Rossi", "Nakamura", "Silva", "Khalil",
        "Moreno", "Wang", "Ibrahim", "Fischer", "Lopez", "Mansour"]
LANGS = [("en", 0.50), ("es", 0.25), ("ar", 0.20), ("zh", 0.05)]
START, END = dt.datetime(2023, 1, 1), dt.datetime(2026, 11, 30)
HARAKAT = ["\u064e", "\u0650", "\u064f", "\u0652"]  # fatha, kasra, damma, sukun


# -- planted queries -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plant:
    """A query, the language of its posts, and what the bench writes into them.

    Ten relevant posts: 4 with a `title` form in the title (and a `body` form once in the body),
    6 with `body` forms three times in the body only. `decoys` posts each get one `decoy` form
    once in the body (and, with `title_decoys`, the first 5 of them in the title too): a word that
    holds the query inside it, a single mention, or the words of a phrase far apart (a pair).
    """

    query: str
    lang: str
    why: str
    title: tuple[str, ...]
    body: tuple[str, ...]
    decoy: tuple[str | tuple[str, str], ...]
    decoys: int = 20
    title_decoys: bool = False


PLANTED = [
    Plant("hen", "en", "substring", ("hen",), ("the hen", "a hen"), ("when", "then", "kitchen", "strengthen"), 30, True),
    Plant("owl", "en", "substring", ("owl",), ("an owl", "the owl"), ("bowl", "knowledge", "growl"), 30, True),
    Plant("ant", "en", "substring", ("ant",), ("an ant", "the ant"), ("important", "want", "giant", "elegant"), 30, True),
    Plant("lantern", "en", "ranking", ("lantern",), ("the lantern",), ("lantern",), 30),
    Plant("telescope", "en", "ranking", ("telescope",), ("a telescope",), ("telescope",), 30),
    Plant("solar oven", "en", "words together", ("solar oven",), ("the solar oven",), (("solar", "oven"),), 30),
    Plant('"night market"', "en", "phrase", ("night market",), ("the night market",), (("night", "market"),), 30),
    Plant("beekeeping workshop", "en", "words together", ("beekeeping workshop",), ("a beekeeping workshop",),
          (("beekeeping", "workshop"),), 30),
    Plant("library", "en", "stemming", ("library", "libraries"), ("the library", "libraries"), ("library",), 20),
    Plant("volunteer", "en", "stemming", ("volunteers", "volunteer"), ("volunteering", "volunteers"),
          ("volunteer",), 20),
    Plant("compost -recipe", "en", "exclusion", ("compost",), ("compost",), (("compost", "recipe"),), 25),
    Plant("hackathon", "en", "ranking", ("hackathon",), ("the hackathon",), ("hackathon",), 30),
    Plant("wiki loves monuments", "en", "words together", ("wiki loves monuments",), ("wiki loves monuments",),
          (("loves", "monuments"),), 30),
    Plant("educacion", "es", "diacritics", ("educación",), ("la educación",), ("educación",), 25),
    Plant("ciudad", "es", "stemming", ("ciudad", "ciudades"), ("la ciudad", "las ciudades"), ("ciudad",), 20),
    Plant("mar", "es", "substring", ("mar",), ("el mar",), ("marzo", "amar", "mariposa"), 30, True),
    Plant('"feria del libro"', "es", "phrase", ("feria del libro",), ("la feria del libro",), (("feria", "libro"),), 30),
    Plant("nino", "es", "diacritics", ("niño",), ("el niño", "un niño"), ("niño",), 25),
    Plant("árbol", "es", "diacritics", ("arbol", "árbol"), ("el arbol", "un árbol"), ("árbol",), 25),
    Plant("biblioteca", "es", "substring", ("biblioteca",), ("la biblioteca",), ("bibliotecario", "biblioteca"), 30, True),
    Plant("cafe", "es", "diacritics", ("café",), ("el café",), ("café",), 25),
    Plant("مكتبة", "ar", "diacritics", ("مَكْتَبَة", "مكتبة"), ("مَكْتَبَة", "مكتبة"), ("مكتبة",), 25),
    Plant("كتاب", "ar", "tatweel", ("كـتـاب", "كِتَاب"), ("كـتـاب", "كِتَاب"), ("كتاب",), 25),
    Plant("مَدْرَسَة", "ar", "diacritics", ("مدرسة",), ("مدرسة",), ("مدرسة",), 25),
    Plant("سوق", "ar", "article", ("السوق", "سوق"), ("السوق", "سوق"), ("سوق",), 20),
    Plant("مهرجان", "ar", "ranking", ("مهرجان",), ("مهرجان",), ("مهرجان",), 30),
    Plant('"معرض الزهور"', "ar", "phrase", ("معرض الزهور",), ("معرض الزهور",), (("معرض", "الزهور"),), 30),
    Plant("بحر", "ar", "substring", ("بحر",), ("بحر",), ("البحرين", "بحر"), 30, True),
    Plant("قمر", "ar", "ranking", ("قمر",), ("قمر",), ("قمر",), 30),
    Plant("شمس", "ar", "ranking", ("شمس",), ("شمس",), ("شمس",), 30),
    Plant("حديقة", "ar", "diacritics", ("حَدِيقَة", "حديقة"), ("حَدِيقَة", "حديقة"), ("حديقة",), 25),
    Plant("图书馆", "zh", "ranking", ("图书馆",), ("图书馆",), ("图书馆",), 20),
    Plant("咖啡", "zh", "ranking", ("咖啡",), ("咖啡",), ("咖啡",), 20),
    Plant("长城", "zh", "ranking", ("长城",), ("长城",), ("长城",), 20),
    Plant("月饼", "zh", "ranking", ("月饼",), ("月饼",), ("月饼",), 20),
    Plant("harvest moon", "en", "words together", ("harvest moon",), ("the harvest moon",),
          (("harvest", "moon"),), 30),
]


FUNCTION_WORDS = {"the", "a", "an", "el", "la", "las", "un", "del"}  # in planted forms, kept in the filler


def _planted_words() -> set[str]:
    """The words the filler must not use: those of the queries and of the planted forms."""
    words = set()
    for p in PLANTED:
        for form in p.title + p.body + tuple(d for d in p.decoy if isinstance(d, tuple) for d in d):
            words.update(normalise(w) for w in form.split())
        words.update(normalise(w) for w in re.findall(r"\w+", p.query))
    return words - FUNCTION_WORDS


def _pseudo_words(lang: str, n: int) -> list[str]:
    """`n` made-up words in `lang`'s script: the long tail of a real vocabulary (a few common
    words fill most of a text; most words are rare), which a few hundred real words lack."""
    rng = random.Random(f"words-{lang}")
    out: set[str] = set()
    while len(out) < n:
        if lang == "zh":
            chars = "".join(ZH)
            out.add(rng.choice(chars) + rng.choice(chars) + (rng.choice(chars) if rng.random() < 0.2 else ""))
        elif lang == "ar":
            letters = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
            out.add(("ال" if rng.random() < 0.3 else "") + "".join(rng.choice(letters) for _ in range(rng.randint(3, 5))))
        else:
            vowels = "aeiou" if lang == "en" else "aeiouáéíóú"
            consonants = "bcdfghjklmnprstvwz" if lang == "en" else "bcdfgjlmnprstvzñ"
            out.add("".join(rng.choice(consonants) + rng.choice(vowels) + (rng.choice("nrslt") if rng.random() < 0.3 else "")
                            for _ in range(rng.randint(2, 4))))
    return sorted(out)


@functools.lru_cache(maxsize=1)
def _vocabulary() -> dict[str, list[str]]:
    """Each language's words, the most frequent first: the real words, then made-up ones; none is
    a planted word (nor, in Arabic, holds one; nor, in Chinese, shares a character with one)."""
    planted = _planted_words()
    ar_stems = {w for w in planted if any("\u0600" <= c <= "\u06ff" for c in w)}
    zh_chars = {c for w in planted for c in w if "\u4e00" <= c <= "\u9fff"}
    vocab = {}
    for lang, real in (("en", EN), ("es", ES), ("ar", AR), ("zh", ZH)):
        words = list(dict.fromkeys(real + _pseudo_words(lang, 8000)))
        if lang == "ar":
            vocab[lang] = [w for w in words if not any(s in normalise(w) for s in ar_stems)]
        elif lang == "zh":
            vocab[lang] = [w for w in words if not zh_chars & set(w)]
        else:
            vocab[lang] = [w for w in words if normalise(w) not in planted]
    return vocab


# -- corpus ----------------------------------------------------------------------------------------
@dataclass
class Post:
    n: int
    source: str
    lang: str
    title: str
    paragraphs: list[str]
    author: str
    category: str
    tags: tuple[str, ...]
    created_at: dt.datetime
    views: int
    replies: int = 0
    vocalised: bool = False

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)


class Writer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.vocab = _vocabulary()
        # Zipf's law: the word of rank r is used about 1/r as often as the most frequent one
        self.weights = {lang: [1.0 / (i + 1) ** 1.0 for i in range(len(words))] for lang, words in self.vocab.items()}
        self.cumulative = {lang: list(itertools.accumulate(w)) for lang, w in self.weights.items()}

    def words(self, lang: str, n: int) -> list[str]:
        return self.rng.choices(self.vocab[lang], cum_weights=self.cumulative[lang], k=n)

    def sentence(self, lang: str, n: int) -> str:
        w = self.words(lang, n)
        if lang == "zh":
            return "".join(w) + "。"
        if lang in ("en", "es"):
            w[0] = w[0][:1].upper() + w[0][1:]
        return " ".join(w) + "."

    def paragraphs(self, lang: str, words: int) -> list[str]:
        out, left = [], words
        while left > 0:
            sentences, size = [], self.rng.randint(40, 120)
            while size > 0 and left > 0:
                k = min(left, self.rng.randint(6, 18))
                sentences.append(self.sentence(lang, k))
                size -= k
                left -= k
            out.append(("" if lang == "zh" else " ").join(sentences))
        return out

    def title(self, lang: str) -> str:
        return self.sentence(lang, self.rng.randint(4, 9)).rstrip(".。")


def vocalise(text: str, rng: random.Random) -> str:
    """Arabic `text` with a vowel mark after most letters, as a fully pointed text is written."""
    out = []
    for c in text:
        out.append(c)
        if "\u0621" <= c <= "\u064a" and rng.random() < 0.7:
            out.append(rng.choice(HARAKAT))
    return "".join(out)


def generate(scale: float, seed: int) -> tuple[list[Post], list[Post], dict[str, set[int]]]:
    """(blog posts, forum posts, PLANTED query -> the numbers of its relevant blog posts)."""
    rng = random.Random(seed)
    w = Writer(rng)
    n_blog, n_forum = max(400, int(10_000 * scale)), max(400, int(50_000 * scale))
    langs, lw = zip(*LANGS)
    blog_authors = [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(40)]
    forum_authors = [f"{rng.choice(FIRST).lower()}_{rng.choice(LAST).lower()}{i}" for i in range(600)]
    span = (END - START).total_seconds()

    def when() -> dt.datetime:
        return START + dt.timedelta(seconds=int(rng.random() * span))

    blog = []
    for i in range(n_blog):
        lang = rng.choices(langs, lw)[0]
        words = int(min(3000, max(80, rng.lognormvariate(6.1, 0.55))))
        blog.append(Post(i, "blog", lang, w.title(lang), w.paragraphs(lang, words), rng.choice(blog_authors),
                         rng.choice(CATEGORIES), tuple(rng.sample(TAGS, rng.randint(0, 4))), when(),
                         int(rng.lognormvariate(4.5, 1.2))))
    forum, topics = [], []
    n_topics = max(100, n_forum // 4)
    for t in range(n_topics):
        lang = rng.choices(langs, lw)[0]
        topics.append((lang, w.title(lang), rng.choice(CATEGORIES), tuple(rng.sample(TAGS, rng.randint(0, 3))), when()))
    for i in range(n_forum):
        lang, title, category, tags, opened = topics[i % n_topics if i < n_topics else rng.randrange(n_topics)]
        words = int(min(600, max(8, rng.lognormvariate(4.0, 0.8))))
        created = opened + dt.timedelta(hours=rng.random() * 24 * 30) if i >= n_topics else opened
        forum.append(Post(i, "forum", lang, title, w.paragraphs(lang, words), rng.choice(forum_authors), category,
                          tags, min(created, END), int(rng.lognormvariate(3.5, 1.3)), rng.randint(0, 40)))
    relevant = plant(blog, rng, w)
    for post in blog + forum:  # half of the Arabic posts are written with their vowel marks
        if post.lang == "ar" and rng.random() < 0.5:
            post.vocalised = True
            post.title = vocalise(post.title, rng) if not _has_planted(post.title) else post.title
            post.paragraphs = [vocalise(p, rng) if not _has_planted(p) else p for p in post.paragraphs]
    return blog, forum, relevant


_PLANTED_MARK = "\u2063"  # INVISIBLE SEPARATOR: kept out of generated text, marks planted paragraphs


def _has_planted(text: str) -> bool:
    return _PLANTED_MARK in text


def _insert(rng: random.Random, paragraphs: list[str], phrase: str, lang: str) -> None:
    """`phrase` at a sentence boundary of a random paragraph (so a phrase is never split)."""
    i = rng.randrange(len(paragraphs))
    sep = "" if lang == "zh" else " "
    parts = re.split(r"(?<=[.。])\s*", paragraphs[i])
    j = rng.randrange(len(parts))
    parts.insert(j, (phrase[:1].upper() + phrase[1:] if lang in ("en", "es") else phrase) + ("。" if lang == "zh" else "."))
    paragraphs[i] = sep.join(p for p in parts if p) + _PLANTED_MARK


def plant(blog: list[Post], rng: random.Random, writer: Writer) -> dict[str, set[int]]:
    by_lang: dict[str, list[Post]] = {}
    for post in blog:
        by_lang.setdefault(post.lang, []).append(post)
    for posts in by_lang.values():
        rng.shuffle(posts)
    need: dict[str, int] = {}
    for p in PLANTED:
        need[p.lang] = need.get(p.lang, 0) + 10 + p.decoys
    # a small corpus (--quick) has fewer decoys, in proportion
    room = {lang: min(1.0, 0.8 * len(by_lang[lang]) / n) for lang, n in need.items()}
    relevant: dict[str, set[int]] = {}
    for p in PLANTED:
        pool = by_lang[p.lang]
        take = [pool.pop() for _ in range(10 + int(p.decoys * room[p.lang]))]
        rel, dec = take[:10], take[10:]
        relevant[p.query] = {post.n for post in rel}
        sep = "" if p.lang == "zh" else " "
        for k, post in enumerate(rel):
            if k < 4:
                words = post.title.split(sep) if sep else [post.title[:4], post.title[4:]]
                at = rng.randint(0, len(words))
                form = rng.choice(p.title)
                words.insert(at, form if at or p.lang not in ("en", "es") else form[:1].upper() + form[1:])
                post.title = sep.join(words) + _PLANTED_MARK
                _insert(rng, post.paragraphs, rng.choice(p.body), p.lang)
            else:
                for _ in range(3):
                    _insert(rng, post.paragraphs, rng.choice(p.body), p.lang)
        for k, post in enumerate(dec):
            d = rng.choice(p.decoy)
            if isinstance(d, tuple):  # the words far apart: a first and a last paragraph
                post.paragraphs.insert(0, w_sentence(writer, p.lang, d[0]) + _PLANTED_MARK)
                post.paragraphs.append(w_sentence(writer, p.lang, d[1]) + _PLANTED_MARK)
            else:
                _insert(rng, post.paragraphs, d, p.lang)
                if p.title_decoys and k < 5:
                    post.title = (d[:1].upper() + d[1:] if p.lang in ("en", "es") else d) + " " + post.title + _PLANTED_MARK
    return relevant


def w_sentence(writer: Writer, lang: str, word: str) -> str:
    filler = writer.words(lang, 8)
    filler.insert(writer.rng.randrange(9), word)
    return ("".join(filler) + "。") if lang == "zh" else (" ".join(filler) + ".")


def strip_mark(text: str) -> str:
    return text.replace(_PLANTED_MARK, "")


def document(post: Post) -> Document:
    if post.source == "blog":
        url, site, remote = f"https://blog.space.example/sb-{post.n}/", "blog", str(post.n)
    else:
        url, site, remote = f"https://forum.space.example/p/{post.n}", "forum", str(post.n)
    return Document(source=post.source, site=site, remote_id=remote, url=url, title=strip_mark(post.title),
                    body=strip_mark(post.body), created_at=post.created_at, author=post.author, language=post.lang,
                    tags=post.tags, category=post.category, views=post.views, replies=post.replies)


# -- mixed queries ---------------------------------------------------------------------------------
def mixed_queries(n: int, seed: int, blog: list[Post], forum: list[Post]) -> list[str]:
    """`n` queries of 20 kinds in turn, built from the corpus so most find something."""
    rng = random.Random(seed + 1)
    vocab = _vocabulary()
    posts = blog + forum

    def word(lang="en", top=0):
        """A common word (ranks 20-200: "people", "water"; `top`: of the `top` most frequent)."""
        return rng.choice(vocab[lang][:top] if top else vocab[lang][20:200])

    def rare(lang="en"):
        """A rarer word (ranks 400-4000), found in tens to hundreds of documents."""
        return rng.choice(vocab[lang][400:4000])

    def phrase():
        post = rng.choice([p for p in posts[:5000] if p.lang == "en"])
        words = re.findall(r"[a-z]+", strip_mark(post.paragraphs[0]).lower())
        i = rng.randrange(max(1, len(words) - 2))
        return '"' + " ".join(words[i:i + 2]) + '"'

    def date():
        return (START + dt.timedelta(days=rng.randrange((END - START).days))).date().isoformat()

    def author():
        return "@" + rng.choice(posts).author.replace(" ", "_")

    kinds = [
        lambda: word(top=20),
        lambda: rare(),
        lambda: f"{word()} {word()}",
        lambda: f"{word()} {rare()} {word()}",
        phrase,
        lambda: f"{word()} -{word()}",
        lambda: f"{word()} tags:{rng.choice(TAGS)}",
        lambda: f"tags:{rng.choice(TAGS)} order:latest",
        lambda: f"{word()} #{rng.choice(CATEGORIES).lower().replace(' ', '-')}",
        author,
        lambda: f"{rare()} after:{date()}",
        lambda: f"{word()} before:{date()}",
        lambda: f"{word()} in:forum",
        lambda: f"{rare()} in:blog lang:en",
        lambda: f"{word('es')} lang:es",
        lambda: f"{word()} order:latest",
        lambda: f"{rare('es')} order:views",
        lambda: rng.choice([word("ar"), vocalise(word("ar"), rng), f"{word('ar')} {rare('ar')}"]),
        lambda: rng.choice([word("zh"), word("zh") + word("zh")[:1], word("zh")[:1]]),
        lambda: rng.choice(PLANTED).query,
    ]
    return [kinds[i % len(kinds)]() for i in range(n)]


# -- measuring -------------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1000:6.1f} ms  p95 {pct(values, 95) * 1000:6.1f} ms  max {max(values) * 1000:6.1f} ms"


def precision(found: list[int], relevant: set[int]) -> float:
    return len([n for n in found[:10] if n in relevant]) / min(10, len(relevant))


@dataclass
class EngineRun:
    name: str
    url: str
    index_seconds: float = 0.0
    docs: int = 0
    times: list[float] = field(default_factory=list)
    slow: list[tuple[float, str]] = field(default_factory=list)
    precision: dict[str, float] = field(default_factory=dict)


def run_engine(name: str, url: str, blog: list[Post], forum: list[Post], queries: list[str],
               relevant: dict[str, set[int]]) -> tuple[EngineRun, sa.Engine]:
    engine = store.make_engine(url)
    store.upgrade(engine)
    search = for_database(engine, SearchSettings(enabled=True))
    r = EngineRun(name, url)
    docs = [document(p) for p in blog + forum]
    random.Random(7).shuffle(docs)  # blog and forum interleaved, as the feeders would send them
    started = time.perf_counter()
    analyzed = 50
    for i, doc in enumerate(docs):
        search.index(doc)
        if name == "PostgreSQL" and i >= analyzed:
            # what autovacuum does after 50 + 10 % of a table changed (autovacuum_analyze_threshold,
            # _scale_factor); the test server runs without it, and without statistics PostgreSQL
            # looks a document up by the wrong index (see bench/README.md)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE search_documents; ANALYZE search_fts"))
            analyzed = 50 + int(i * 1.1)
        if i and i % 10_000 == 0:
            print(f"    {name}: {i} indexed, {i / (time.perf_counter() - started):.0f}/s", flush=True)
    r.index_seconds, r.docs = time.perf_counter() - started, len(docs)
    if name == "SQLite":
        with engine.begin() as conn:  # what a reindex does last: FTS5 merges its segments
            for table in ("search_fts", "search_fts_trigram"):
                conn.execute(sa.text(f"INSERT INTO {table}({table}) VALUES ('optimize')"))
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    for q in queries[:40]:  # warm-up: the database's pages in memory
        search.search(parse(q))
    for q in queries:
        t = time.perf_counter()
        search.search(parse(q))
        r.times.append(time.perf_counter() - t)
        r.slow.append((r.times[-1], q))
    for p in PLANTED:
        page = search.search(parse(p.query + " in:blog"))
        r.precision[p.query] = precision([int(x.remote_id) for x in page.results], relevant[p.query])
    return r, engine


# -- WordPress -------------------------------------------------------------------------------------
WP_HOST = "search-bench.test"


class WordPress:
    """A second WordPress site on the stack's php -S server, for the bench alone.

    Debian's /usr/share/wordpress/wp-config.php reads /etc/wordpress/config-<Host header>.php, so
    requests sent with `Host: search-bench.test` are a site with its own MariaDB database and
    user (made here, as root over the socket). The stack's own site, whose posts the tests
    list, is never touched. WordPress is installed by wp_install() (php-cli, the stack's
    provisioning helper pretends the request), then the posts, users, categories and tags are
    inserted with SQL (REST would take an hour for 10,000 posts). `close()` drops the database,
    the user and the config file; it runs on exit, error, Ctrl-C and SIGTERM.
    """

    DB = "space_bridge_search_bench"

    def __init__(self, stack: dict) -> None:
        self.base = stack["wordpress"]["url"].rstrip("/")
        self.port = int(self.base.rsplit(":", 1)[1])
        self.home = f"http://{WP_HOST}:{self.port}"
        self.config = Path("/etc/wordpress") / f"config-{WP_HOST}.php"
        self.password = secrets.token_hex(16)
        self.opened = False

    def sql(self, text: str, db: str | None = None) -> str:
        out = subprocess.run(["mariadb", "--default-character-set=utf8mb4", "-N", "-B"] + ([db] if db else []),
                             input=text, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"mariadb: {out.stderr[:500]}")
        return out.stdout

    def open(self) -> None:
        self.opened = True
        self.sql(f"DROP DATABASE IF EXISTS {self.DB}; CREATE DATABASE {self.DB} CHARACTER SET utf8mb4;"
                 f" DROP USER IF EXISTS '{self.DB}'@'localhost';"
                 f" CREATE USER '{self.DB}'@'localhost' IDENTIFIED BY '{self.password}';"
                 f" GRANT ALL ON {self.DB}.* TO '{self.DB}'@'localhost';")
        stack_config = (Path("/etc/wordpress") / "config-127.0.0.1.php").read_text()
        content_dir = re.search(r"define\('WP_CONTENT_DIR', '([^']*)'\)", stack_config).group(1)
        self.config.write_text(
            "<?php\n// bench/search.py: a throwaway site for the search bench; removed when the bench ends.\n"
            f"define('DB_NAME', '{self.DB}');\ndefine('DB_USER', '{self.DB}');\n"
            f"define('DB_PASSWORD', '{self.password}');\ndefine('DB_HOST', 'localhost');\n"
            "define('DB_CHARSET', 'utf8mb4');\ndefine('DB_COLLATE', '');\n$table_prefix = 'wp_';\n"
            f"define('WP_HOME', '{self.home}');\ndefine('WP_SITEURL', '{self.home}');\n"
            f"define('WP_CONTENT_DIR', '{content_dir}');\ndefine('WP_CONTENT_URL', '{self.home}/wp-content');\n"
            "define('WP_ENVIRONMENT_TYPE', 'local');\ndefine('WP_DEFAULT_THEME', 'twentytwentythree');\n"
            "define('WP_DEBUG', false);\ndefine('AUTOMATIC_UPDATER_DISABLED', true);\n"
            "define('WP_HTTP_BLOCK_EXTERNAL', true);\n")
        self.config.chmod(0o644)
        script = (
            "<?php\n"
            f"require_once {json.dumps(str(ROOT / 'ansible/roles/wordpress/files/provisioning.php'))};\n"
            f"space_bridge_pretend_request({json.dumps(self.home)});\n"
            "require '/usr/share/wordpress/wp-load.php';\n"
            "require_once ABSPATH . 'wp-admin/includes/upgrade.php';\n"
            "$r = wp_install('Search bench', 'admin', 'admin@search-bench.test', false, '', wp_generate_password(24));\n"
            "if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message()); exit(1); }\n"
            "update_option('permalink_structure', '/%postname%/');\n"
            "update_option('posts_per_page', 10);\n"
            "switch_theme('twentytwentythree');\n"
            "echo 'ok';\n")
        with tempfile.NamedTemporaryFile("w", suffix=".php", delete=False) as f:
            f.write(script)
        try:
            out = subprocess.run(["php", "-d", "display_errors=stderr", f.name], capture_output=True, text=True)
        finally:
            os.unlink(f.name)
        if out.returncode or "ok" not in out.stdout:
            raise RuntimeError(f"WordPress install failed: {out.stderr[-800:]} {out.stdout[-300:]}")

    def load(self, blog: list[Post]) -> float:
        """Inserts the posts with SQL; returns the seconds it took."""
        started = time.perf_counter()
        users = sorted({p.author for p in blog})
        uid = {name: 100 + i for i, name in enumerate(users)}
        terms = [("category", c) for c in CATEGORIES] + [("post_tag", t) for t in TAGS]
        tid = {term: 100 + i for i, term in enumerate(terms)}
        counts: dict[tuple[str, str], int] = {}
        stmts = ["SET NAMES utf8mb4;", "SET autocommit=0;",
                 "DELETE FROM wp_posts; DELETE FROM wp_postmeta; DELETE FROM wp_comments; DELETE FROM wp_term_relationships;"]
        stmts.append("INSERT INTO wp_users (ID, user_login, user_pass, user_nicename, user_email, user_registered,"
                     " display_name) VALUES " + ",".join(
                         f"({uid[u]}, {q(slug(u))}, '', {q(slug(u))}, {q(slug(u) + '@search-bench.test')},"
                         f" '2023-01-01 00:00:00', {q(u)})" for u in users) + ";")
        stmts.append("INSERT INTO wp_terms (term_id, name, slug) VALUES "
                     + ",".join(f"({tid[t]}, {q(t[1])}, {q(slug(t[1]))})" for t in terms) + ";")
        rows, rels = [], []
        for post in blog:
            date = post.created_at.strftime("%Y-%m-%d %H:%M:%S")
            content = "\n\n".join(f"<!-- wp:paragraph -->\n<p>{html(strip_mark(p))}</p>\n<!-- /wp:paragraph -->"
                                  for p in post.paragraphs)
            pid = 10_000 + post.n
            rows.append(f"({pid}, {uid[post.author]}, '{date}', '{date}', {q(content)}, {q(html(strip_mark(post.title)))},"
                        f" '', 'publish', 'open', 'open', '', 'sb-{post.n}', '', '', '{date}', '{date}', '', 0,"
                        f" '{self.home}/?p={pid}', 0, 'post', '', 0)")
            for term in [("category", post.category)] + [("post_tag", t) for t in post.tags]:
                rels.append(f"({pid}, {tid[term]})")
                counts[term] = counts.get(term, 0) + 1
        cols = ("ID, post_author, post_date, post_date_gmt, post_content, post_title, post_excerpt, post_status,"
                " comment_status, ping_status, post_password, post_name, to_ping, pinged, post_modified,"
                " post_modified_gmt, post_content_filtered, post_parent, guid, menu_order, post_type,"
                " post_mime_type, comment_count")
        for chunk in range(0, len(rows), 200):
            stmts.append(f"INSERT INTO wp_posts ({cols}) VALUES " + ",".join(rows[chunk:chunk + 200]) + ";")
        stmts.append("INSERT INTO wp_term_taxonomy (term_taxonomy_id, term_id, taxonomy, description, parent, count) VALUES "
                     + ",".join(f"({tid[t]}, {tid[t]}, {q(t[0])}, '', 0, {counts.get(t, 0)})" for t in terms) + ";")
        for chunk in range(0, len(rels), 5000):
            stmts.append("INSERT INTO wp_term_relationships (object_id, term_taxonomy_id) VALUES "
                         + ",".join(rels[chunk:chunk + 5000]) + ";")
        stmts.append("COMMIT;")
        self.sql("\n".join(stmts), self.DB)
        return time.perf_counter() - started

    def close(self) -> None:
        if not self.opened:
            return
        self.opened = False
        self.config.unlink(missing_ok=True)
        self.sql(f"DROP DATABASE IF EXISTS {self.DB}; DROP USER IF EXISTS '{self.DB}'@'localhost';")


def q(value: str) -> str:
    """A MariaDB string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\x00", "\\0") + "'"


def html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()).strip("-")


def wordpress_search(session, wp: WordPress, query: str, kind: str) -> tuple[float, list[int]]:
    """(seconds, the post numbers of the first 10 results) of WordPress's `kind` search."""
    headers = {"Host": f"{WP_HOST}:{wp.port}"}
    started = time.perf_counter()
    if kind == "rest":
        resp = session.get(f"{wp.base}/wp-json/wp/v2/search", params={"search": query, "per_page": 10}, headers=headers)
        elapsed = time.perf_counter() - started
        resp.raise_for_status()
        return elapsed, [r["id"] - 10_000 for r in resp.json() if r.get("subtype") == "post"]
    resp = session.get(f"{wp.base}/", params={"s": query}, headers=headers, allow_redirects=False)
    elapsed = time.perf_counter() - started
    if resp.status_code != 200:
        raise RuntimeError(f"/?s={query}: HTTP {resp.status_code}")
    found = re.findall(r'href="' + re.escape(wp.home) + r'/sb-(\d+)/"', resp.text)
    return elapsed, [int(n) for n in dict.fromkeys(found)]


def bridge_server(url: str, tmp: Path):
    """The bridge's Flask app (search enabled) on a free loopback port, in a thread."""
    import logging

    from werkzeug.serving import make_server

    from bridge import config
    from bridge.app import create_app

    path = tmp / f"space-{abs(hash(url))}.yaml"
    path.write_text(f"bridge:\n  public_url: http://127.0.0.1:8090\n  secret_key: {secrets.token_hex(20)}\n"
                    f"  database_url: {url}\n  state_dir: {tmp}/state\n  log_format: json\n"
                    "search:\n  enabled: true\n")
    settings = config.load(path)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def bridge_http(session, port: int, query: str) -> tuple[float, list[int]]:
    started = time.perf_counter()
    resp = session.get(f"http://127.0.0.1:{port}/search.json", params={"q": query, "in": "blog"})
    elapsed = time.perf_counter() - started
    resp.raise_for_status()
    return elapsed, [int(r["url"].rstrip("/").rsplit("sb-", 1)[1]) for r in resp.json()["results"]]


# -- the stack -------------------------------------------------------------------------------------
STACK = ROOT / "deploy/dev/stack.sh"


def stack_up() -> tuple[dict, bool]:
    """The stack's stack.json, and whether it ran before (then it is left running)."""
    was_running = subprocess.run(["bash", str(STACK), "status"], capture_output=True).returncode == 0
    subprocess.run(["bash", str(STACK), "up"], check=True, capture_output=True)
    state = Path(os.environ.get("SPACE_DEV_STATE", ROOT / ".dev"))
    return json.loads((state / "stack.json").read_text()), was_running


# -- main ------------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=float, default=1.0, help="scale of the corpus (1.0: 10,000 blog + 50,000 forum posts)")
    ap.add_argument("--quick", action="store_true", help="a small run: --docs 0.2 and 100 queries")
    ap.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--skip-wordpress", action="store_true")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--postgres", default=os.environ.get(
        "SPACE_TEST_POSTGRES_URL", "postgresql://space_bridge:space_bridge@127.0.0.1:5432/postgres"))
    args = ap.parse_args()
    if args.quick:
        args.docs, args.queries = 0.2, 100
    logs.configure("console", "warning")

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    started = time.perf_counter()
    blog, forum, relevant = generate(args.docs, args.seed)
    queries = mixed_queries(args.queries, args.seed, blog, forum)
    words = sum(len(strip_mark(p.body).split()) for p in blog + forum)
    print(f"corpus: {len(blog)} blog posts, {len(forum)} forum posts, {words:,} words (seed {args.seed}, "
          f"generated in {time.perf_counter() - started:.1f} s); {len(queries)} mixed queries, "
          f"{len(PLANTED)} planted; {os.cpu_count()} cores", flush=True)
    ok = True
    runs: list[EngineRun] = []
    engines: dict[str, sa.Engine] = {}
    wp = stack = None
    was_running = True
    pg_name = "space_bridge_bench_search"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            names = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
            for name in names:
                url = (f"sqlite:///{tmp}/search.db" if name == "sqlite"
                       else store.create_empty_database(args.postgres, pg_name))
                label = "SQLite" if name == "sqlite" else "PostgreSQL"
                print(f"  {label}: indexing {len(blog) + len(forum)} documents ...", flush=True)
                r, engine = run_engine(label, url, blog, forum, queries, relevant)
                runs.append(r)
                engines[label] = engine
                print(f"(1) {label}: indexed {r.docs} documents in {r.index_seconds:.1f} s = "
                      f"{r.docs / r.index_seconds:.0f} documents/s; {len(r.times)} mixed queries: {ms(r.times)}", flush=True)
                for seconds, qtext in sorted(r.slow, reverse=True)[:5]:
                    print(f"      slowest: {seconds * 1000:6.1f} ms  {qtext}")
                mean = statistics.mean(r.precision.values())
                print(f"(2) {label}: precision at 10 of {len(PLANTED)} planted queries (in:blog): mean {mean:.3f}",
                      flush=True)
                if label == "SQLite" and args.docs >= 1.0:
                    ok &= pct(r.times, 95) <= 0.050
            if not args.skip_wordpress:
                import requests

                stack, was_running = stack_up()
                wp = WordPress(stack)
                wp.open()
                load_s = wp.load(blog)
                print(f"(3) WordPress: a site of its own ({WordPress.DB}), {len(blog)} posts inserted with SQL in "
                      f"{load_s:.1f} s", flush=True)
                session = requests.Session()
                for p in PLANTED[:5]:  # warm-up (opcache, MariaDB's buffer pool)
                    wordpress_search(session, wp, p.query, "html")
                    wordpress_search(session, wp, p.query, "rest")
                results: dict[str, dict[str, tuple[float, float]]] = {}
                for kind in ("html", "rest"):
                    results[kind] = {}
                    for p in PLANTED:
                        seconds, found = wordpress_search(session, wp, p.query, kind)
                        results[kind][p.query] = (seconds, precision(found, relevant[p.query]))
                for r in runs:
                    server = bridge_server(r.url, Path(tmp))
                    try:
                        for p in PLANTED[:5]:
                            bridge_http(session, server.server_port, p.query)
                        results[r.name] = {}
                        for p in PLANTED:
                            seconds, found = bridge_http(session, server.server_port, p.query)
                            results[r.name][p.query] = (seconds, precision(found, relevant[p.query]))
                    finally:
                        server.shutdown()
                report_wordpress(results, runs)
                wp_best = max(statistics.mean(v[1] for v in results[k].values()) for k in ("html", "rest"))
                for r in runs:
                    ok &= statistics.mean(v[1] for v in results[r.name].values()) > wp_best
        finally:
            if wp:
                wp.close()
            for engine in engines.values():
                engine.dispose()
            if "PostgreSQL" in engines:
                admin = sa.create_engine(store.normalise_url(args.postgres), isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
                admin.dispose()
            if stack is not None and not was_running and not os.environ.get("SPACE_KEEP_STACK"):
                subprocess.run(["bash", str(STACK), "down"], check=False, capture_output=True)
    print("goals met" if ok else "GOALS NOT MET")
    return 0 if ok else 1


def report_wordpress(results: dict, runs: list[EngineRun]) -> None:
    kinds = [("WordPress /?s=", "html"), ("WordPress REST search", "rest")] + [(f"bridge /search.json, {r.name}", r.name)
                                                                            for r in runs]
    print(f"    {'search':<34} {'p50 ms':>7} {'p95 ms':>7} {'P@10':>6}")
    for label, key in kinds:
        times = [v[0] for v in results[key].values()]
        prec = statistics.mean(v[1] for v in results[key].values())
        print(f"    {label:<34} {pct(times, 50) * 1000:7.1f} {pct(times, 95) * 1000:7.1f} {prec:6.3f}")
    for r in runs:
        bridge = pct([v[0] for v in results[r.name].values()], 50)
        for label, key in kinds[:2]:
            print(f"    latency ratio {label} / bridge ({r.name}), medians: "
                  f"{pct([v[0] for v in results[key].values()], 50) / bridge:.1f}")
    whys = sorted({p.why for p in PLANTED})
    print("    precision at 10 by kind of query (" + ", ".join(k for _, k in kinds) + "):")
    for why in whys:
        qs = [p.query for p in PLANTED if p.why == why]
        cells = "  ".join(f"{statistics.mean(results[k][x][1] for x in qs):.2f}" for _, k in kinds)
        print(f"      {why:<16} ({len(qs):>2}) {cells}")
    print("    per query:")
    for p in PLANTED:
        cells = "  ".join(f"{results[k][p.query][1]:.1f}" for _, k in kinds)
        print(f"      {p.query:<24} {p.why:<15} {cells}")


if __name__ == "__main__":
    sys.exit(main())
