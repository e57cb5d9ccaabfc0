#!/usr/bin/env python3
"""Generate the demo model's training and held-out text (standard library only, fixed seed).

    python3 demo/make_data.py [--out build/demo] [--train-docs 100000] [--heldout demo/heldout.txt]

Writes <out>/train.txt and <out>/valid.txt, and the committed few-KB held-out sample
(the first documents of valid.txt) to --heldout. Every document ends with <|endoftext|>.

The text is simple, low-entropy English a few-MB model can learn, plus tasks where more
loop steps should help:
  story    templated little stories (a small vocabulary; names, pronouns and objects are
           carried from sentence to sentence)
  count    little word problems: "Tom had 7 apples. Mia gave him 5 more apples. Now Tom has
           12 apples."
  facts    fixed facts ("Birds can fly.") and questions about a short scene ("Lily has a red
           ball and Ben has a blue kite. Q: What does Ben have? A: a blue kite.")
  math     multi-digit addition and subtraction written as text, "Q: 347 + 58 = ? A: 405";
           the tokenizer splits every digit, so the answer is produced digit by digit, most
           significant first, and each digit needs the carries of everything to its right.
Train and held-out use different seeds; an arithmetic problem (a, op, b) goes to exactly one
split (chosen by a hash), so held-out sums were never seen in training.
"""
import argparse
import hashlib
import os
import random

EOT = "<|endoftext|>"

BOYS = ["Tom", "Ben", "Sam", "Max", "Jack", "Leo", "Tim", "Dan"]
GIRLS = ["Lily", "Mia", "Anna", "Lucy", "Emma", "Sue", "Amy", "Zoe"]
ANIMALS = ["cat", "dog", "bird", "rabbit", "duck", "frog", "bear", "fox", "mouse", "pig"]
COLORS = ["red", "blue", "green", "yellow", "pink", "brown", "white", "black"]
TOYS = ["ball", "kite", "box", "hat", "book", "cup", "boat", "drum", "car", "doll"]
FOODS = ["apple", "cake", "cookie", "pie", "carrot", "banana", "egg", "plum"]
PLACES = ["park", "garden", "forest", "beach", "farm", "lake", "hill", "town"]
AT = {"park": "in", "garden": "in", "forest": "in", "beach": "on", "farm": "on", "lake": "by",
      "hill": "on", "town": "in"}  # "looked on the hill"
HOMES = ["small house", "big house", "hole", "nest", "barn", "tree"]
ADJS = ["little", "small", "happy", "kind", "funny", "brave", "shy", "big"]
LIKES = ["play with a ball", "sing songs", "run in the grass", "read books", "climb trees",
         "swim in the lake", "dig in the sand", "draw pictures", "eat cake", "jump high"]
GLAD = ["happy", "glad", "excited", "surprised"]
SAD = ["sad", "upset", "worried"]
WEATHER = ["sunny", "rainy", "windy", "cold", "warm"]
CAN = [("Birds", "fly"), ("Fish", "swim"), ("Frogs", "jump"), ("Dogs", "run"), ("Cats", "climb"),
       ("Ducks", "swim"), ("Rabbits", "hop"), ("Bears", "sleep all winter")]
IS = [("The sky", "blue"), ("Grass", "green"), ("Snow", "white"), ("The sun", "hot"),
      ("Ice", "cold"), ("A banana", "yellow"), ("A carrot", "orange"), ("The night", "dark")]


def plural(word, n):
    return word if n == 1 else word + "s"


class Person:
    def __init__(self, rng, avoid=None):
        while True:
            self.boy = rng.random() < 0.5
            self.name = rng.choice(BOYS if self.boy else GIRLS)
            if self.name != avoid:
                break
        self.he, self.He = ("he", "He") if self.boy else ("she", "She")
        self.his, self.him = ("his", "him") if self.boy else ("her", "her")


def story_found(rng):
    a = Person(rng)
    b = Person(rng, a.name)
    animal, home, place = rng.choice(ANIMALS), rng.choice(HOMES), rng.choice(PLACES)
    color, toy, like = rng.choice(COLORS), rng.choice(TOYS), rng.choice(LIKES)
    s = [f"Once upon a time, there was a {rng.choice(ADJS)} {animal} named {a.name}.",
         f"{a.name} lived in a {home} near the {place}.",
         f"{a.He} liked to {like}."]
    s2 = [f"One day, {a.name} went to the {rng.choice(PLACES)} and found a {color} {toy}.",
          f"{a.name} was very {rng.choice(GLAD)}.",
          f"{a.He} took the {toy} home and showed it to {a.his} friend {b.name}.",
          f"\"What a nice {toy}!\" said {b.name}.",
          f"They played with the {color} {toy} all day. The end."]
    return " ".join(s) + "\n" + " ".join(s2)


def story_lost(rng):
    a = Person(rng)
    b = Person(rng, a.name)
    animal, color, toy = rng.choice(ANIMALS), rng.choice(COLORS), rng.choice(TOYS)
    p1, p2, p3 = rng.sample(PLACES, 3)
    s = [f"One {rng.choice(WEATHER)} day, {a.name} the {animal} lost {a.his} {color} {toy}.",
         f"{a.He} looked {AT[p1]} the {p1}, but it was not there.",
         f"{a.He} looked {AT[p2]} the {p2}, but it was not there.",
         f"{a.name} was very {rng.choice(SAD)}."]
    s2 = [f"Then {a.his} friend {b.name} came and said, \"I saw your {toy} {AT[p3]} the {p3}!\"",
          f"{a.name} ran to the {p3} and found the {color} {toy}.",
          f"\"Thank you, {b.name}!\" said {a.name}. The end."]
    return " ".join(s) + "\n" + " ".join(s2)


def story_share(rng):
    a = Person(rng)
    b = Person(rng, a.name)
    food, place = rng.choice(FOODS), rng.choice(PLACES)
    s = [f"Once upon a time, {a.name} and {b.name} went to the {place}.",
         f"It was a {rng.choice(WEATHER)} day.",
         f"{a.name} had a big {food}, but {b.name} had nothing to eat.",
         f"{b.name} was {rng.choice(SAD)}."]
    s2 = [f"{a.name} said, \"Let us share my {food}.\"",
          f"{a.He} gave half of the {food} to {b.name}.",
          f"{b.name} smiled and said, \"Thank you, {a.name}!\"",
          f"They ate the {food} together and were very {rng.choice(GLAD)}. The end."]
    return " ".join(s) + "\n" + " ".join(s2)


def count_story(rng):
    a = Person(rng)
    b = Person(rng, a.name)
    food = rng.choice(FOODS)
    if rng.random() < 0.6:
        x, y = rng.randint(1, 9), rng.randint(1, 9)
        return (f"{a.name} had {x} {plural(food, x)}. {b.name} gave {a.him} {y} more "
                f"{plural(food, y)}. Now {a.name} has {x + y} {plural(food, x + y)}.")
    x = rng.randint(2, 19)
    y = rng.randint(1, x - 1)
    return (f"{a.name} had {x} {plural(food, x)}. {a.He} ate {y} of them. "
            f"Now {a.name} has {x - y} {plural(food, x - y)}.")


def facts(rng):
    lines = []
    for _ in range(rng.randint(2, 4)):
        r = rng.random()
        if r < 0.3:
            who, what = rng.choice(CAN)
            lines.append(f"{who} can {what}.")
        elif r < 0.5:
            who, what = rng.choice(IS)
            lines.append(f"{who} is {what}.")
        else:
            a = Person(rng)
            b = Person(rng, a.name)
            ca, cb = rng.sample(COLORS, 2)
            ta, tb = rng.sample(TOYS, 2)
            scene = f"{a.name} has a {ca} {ta} and {b.name} has a {cb} {tb}."
            q = rng.randrange(3)
            if q == 0:
                who = rng.choice([a, b])
                own = (ca, ta) if who is a else (cb, tb)
                lines.append(f"{scene} Q: What does {who.name} have? A: a {own[0]} {own[1]}.")
            elif q == 1:
                who = rng.choice([a, b])
                toy, col = (ta, ca) if who is a else (tb, cb)
                lines.append(f"{scene} Q: What color is the {toy}? A: {col}.")
            else:
                who = rng.choice([a, b])
                toy = ta if who is a else tb
                lines.append(f"{scene} Q: Who has the {toy}? A: {who.name}.")
    return "\n".join(lines)


def in_heldout(a, op, b):
    return hashlib.md5(f"{a}{op}{b}".encode()).digest()[0] < 26  # about 10% of all problems


def number(rng):
    digits = rng.choice([2, 3])
    return rng.randint(10 ** (digits - 1), 10 ** digits - 1)


def math_doc(rng, heldout):
    lines, n = [], rng.randint(4, 7)
    while len(lines) < n:
        a, b = number(rng), number(rng)
        if in_heldout(a, "+", b) != heldout:
            continue
        lines.append(f"Q: {a} + {b} = ? A: {a + b}")
    return "\n".join(lines)


KINDS = [(story_found, 0.12), (story_lost, 0.10), (story_share, 0.08), (count_story, 0.12),
         (facts, 0.10), (math_doc, 0.48)]


def documents(seed, n, heldout):
    rng = random.Random(seed)
    fns, weights = zip(*KINDS)
    for _ in range(n):
        fn = rng.choices(fns, weights)[0]
        yield fn(rng, heldout) if fn is math_doc else fn(rng)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="build/demo")
    ap.add_argument("--train-docs", type=int, default=100000)
    ap.add_argument("--valid-docs", type=int, default=2000)
    ap.add_argument("--heldout", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "heldout.txt"))
    ap.add_argument("--heldout-bytes", type=int, default=6000)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "train.txt"), "w") as f:
        for d in documents(1234, args.train_docs, False):
            f.write(d + EOT)
    valid = [d + EOT for d in documents(5678, args.valid_docs, True)]
    with open(os.path.join(args.out, "valid.txt"), "w") as f:
        f.write("".join(valid))
    # the committed sample: the first held-out documents, whole, up to about heldout-bytes
    sample, size = [], 0
    for d in valid:
        if size + len(d) > args.heldout_bytes:
            break
        sample.append(d)
        size += len(d)
    with open(args.heldout, "w") as f:
        f.write("".join(sample))
    for name in ("train.txt", "valid.txt"):
        print(f"wrote {os.path.join(args.out, name)}: {os.path.getsize(os.path.join(args.out, name))} bytes")
    print(f"wrote {args.heldout}: {size} bytes, {len(sample)} documents")


if __name__ == "__main__":
    main()
