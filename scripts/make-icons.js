#!/usr/bin/env node
// Draws the Teams app icons into appPackage/: color.png (192×192, full-bleed accent background)
// and outline.png (32×32, white glyph on transparent). The logo is two right-pointing chevrons,
// "shift forward". Only node:zlib is used; the PNG chunks are written here.
//   node scripts/make-icons.js
const { deflateSync } = require('node:zlib');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const ACCENT = [0x0f, 0x6c, 0xbd]; // keep in step with accentColor in appPackage/manifest.json
const WHITE = [0xff, 0xff, 0xff];

// --- PNG encoding -------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const typeAndData = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

/** rgba: width*height*4 bytes, row-major. 8-bit RGBA, no interlace, filter 0 on every row. */
function encodePng(width, height, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type: truecolour with alpha
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  const stride = width * 4;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0;
    rgba.copy(raw, y * (stride + 1) + 1, y * stride, (y + 1) * stride);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// --- Drawing ------------------------------------------------------------------------------

/** A chevron ">" in unit coordinates: left edge at x0, stroke width t, tip reach d. */
function chevron(x0, t, d) {
  return [
    [x0, 0.2],
    [x0 + t, 0.2],
    [x0 + t + d, 0.5],
    [x0 + t, 0.8],
    [x0, 0.8],
    [x0 + d, 0.5],
  ];
}

function inside(poly, x, y) {
  let hit = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

/** Fraction of the pixel covered by the polygon, from a 4×4 grid of samples. */
function coverage(poly, px, py, size) {
  const n = 4;
  let covered = 0;
  for (let sy = 0; sy < n; sy++) {
    for (let sx = 0; sx < n; sx++) {
      if (inside(poly, (px + (sx + 0.5) / n) / size, (py + (sy + 0.5) / n) / size)) covered++;
    }
  }
  return covered / (n * n);
}

const BACK = chevron(0.14, 0.15, 0.28);
const FRONT = chevron(0.41, 0.15, 0.28);

/** background: RGB or null for transparent. The back chevron is drawn at 60 % so the pair reads as motion. */
function draw(size, background, options) {
  const out = Buffer.alloc(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const glyph = Math.min(1, coverage(BACK, x, y, size) * options.backOpacity + coverage(FRONT, x, y, size));
      const i = (y * size + x) * 4;
      if (background) {
        for (let c = 0; c < 3; c++) out[i + c] = Math.round(background[c] * (1 - glyph) + WHITE[c] * glyph);
        out[i + 3] = 255;
      } else {
        // Outline icons may hold only white and transparency: the glyph is white, coverage is alpha.
        out[i] = out[i + 1] = out[i + 2] = glyph > 0 ? 255 : 0;
        out[i + 3] = Math.round(glyph * 255);
      }
    }
  }
  return out;
}

const dir = join(__dirname, '..', 'appPackage');
writeFileSync(join(dir, 'color.png'), encodePng(192, 192, draw(192, ACCENT, { backOpacity: 0.6 })));
writeFileSync(join(dir, 'outline.png'), encodePng(32, 32, draw(32, null, { backOpacity: 1 })));
console.log('wrote appPackage/color.png (192x192) and appPackage/outline.png (32x32)');
