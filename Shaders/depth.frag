#version 300 es
// Depth only: the colour of the bricks' faces is never seen.
precision mediump float;

out vec4 fragment;

void main() {
    fragment = vec4(0.0);
}
