import { describe, expect, it } from "vitest";
import { applySgr, parseAnsi, rgbOf256, stripAnsi, styleProps } from "./ansi";

const ESC = "\u001b";
const plain = applySgr(
  { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false, inverse: false, strike: false },
  "0",
);

describe("parseAnsi", () => {
  it("leaves text without escapes alone", () => {
    expect(parseAnsi("hello <b>world</b>")).toEqual([{ text: "hello <b>world</b>", start: 0, style: null }]);
    expect(parseAnsi("")).toEqual([]);
  });

  it("splits at colour changes and resets, with offsets into the displayed text", () => {
    const segments = parseAnsi(`${ESC}[31mred${ESC}[0m plain ${ESC}[1;32mbold green${ESC}[m!`);
    expect(segments.map((s) => [s.text, s.start])).toEqual([
      ["red", 0],
      [" plain ", 3],
      ["bold green", 10],
      ["!", 20],
    ]);
    expect(segments[0]?.style).toMatchObject({ fg: { kind: "index", index: 1 }, bold: false });
    expect(segments[1]?.style).toBeNull();
    expect(segments[2]?.style).toMatchObject({ fg: { kind: "index", index: 2 }, bold: true });
    expect(segments[3]?.style).toBeNull();
  });

  it("reads bright, 256-colour and truecolour foregrounds and backgrounds, both notations", () => {
    const [bright] = parseAnsi(`${ESC}[91;104mx`);
    expect(bright?.style).toMatchObject({ fg: { kind: "index", index: 9 }, bg: { kind: "index", index: 12 } });
    const [indexed] = parseAnsi(`${ESC}[38;5;208;48;5;17mx`);
    expect(indexed?.style).toMatchObject({ fg: { kind: "index", index: 208 }, bg: { kind: "index", index: 17 } });
    const [rgb] = parseAnsi(`${ESC}[38;2;255;100;0mx`);
    expect(rgb?.style?.fg).toEqual({ kind: "rgb", r: 255, g: 100, b: 0 });
    const [colon] = parseAnsi(`${ESC}[38:2::10:20:30;1mx`);
    expect(colon?.style).toMatchObject({ fg: { kind: "rgb", r: 10, g: 20, b: 30 }, bold: true });
    const [colonIndexed] = parseAnsi(`${ESC}[48:5:196mx`);
    expect(colonIndexed?.style?.bg).toEqual({ kind: "index", index: 196 });
  });

  it("tracks attributes on and off", () => {
    let style = applySgr(plain, "1;3;4;7;9");
    expect(style).toMatchObject({ bold: true, italic: true, underline: true, inverse: true, strike: true });
    style = applySgr(style, "22;23;24;27;29");
    expect(style).toEqual(plain);
    expect(applySgr(applySgr(plain, "31;42"), "39;49")).toEqual(plain);
    expect(applySgr(plain, "4:0").underline).toBe(false);
  });

  it("drops other sequences (cursor moves, titles, hyperlinks) and keeps their text", () => {
    const line = `${ESC}[2K${ESC}[1G${ESC}]0;title${ESC}\\${ESC}]8;;https://example.com${ESC}\\link${ESC}]8;;${ESC}\\ done${ESC}[?25h`;
    expect(parseAnsi(line).map((s) => s.text)).toEqual(["link done"]);
    expect(stripAnsi(line)).toBe("link done");
  });

  it("never interprets markup: the text is data", () => {
    const [segment] = parseAnsi(`${ESC}[31m<img src=x onerror=alert(1)>`);
    expect(segment?.text).toBe("<img src=x onerror=alert(1)>");
  });

  it("ignores malformed extended colours without losing the rest", () => {
    const [segment] = parseAnsi(`${ESC}[38;5m${ESC}[38;2;1mx`);
    expect(segment).toEqual({ text: "x", start: 0, style: null });
  });
});

describe("styleProps", () => {
  it("uses theme classes for the 16 colours and inline colours beyond", () => {
    expect(styleProps(applySgr(plain, "1;31"))).toEqual({ className: "ansi-fg-1 ansi-bold" });
    expect(styleProps(applySgr(plain, "38;5;196"))).toEqual({ className: "", color: "rgb(255 0 0)" });
    expect(styleProps(applySgr(plain, "48;2;1;2;3"))).toEqual({ className: "", background: "rgb(1 2 3)" });
  });

  it("swaps colours for inverse, defaulting to the log's own", () => {
    expect(styleProps(applySgr(plain, "7"))).toEqual({ className: "ansi-fg-inverse ansi-bg-inverse" });
    expect(styleProps(applySgr(plain, "7;32"))).toEqual({ className: "ansi-fg-inverse ansi-bg-2" });
  });

  it("maps the 256-colour cube and greys", () => {
    expect(rgbOf256(16)).toEqual([0, 0, 0]);
    expect(rgbOf256(231)).toEqual([255, 255, 255]);
    expect(rgbOf256(208)).toEqual([255, 135, 0]);
    expect(rgbOf256(232)).toEqual([8, 8, 8]);
    expect(rgbOf256(255)).toEqual([238, 238, 238]);
  });
});
