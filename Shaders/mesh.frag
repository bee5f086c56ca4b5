#version 300 es
// Blinn-Phong with a headlight (light at the eye), two-sided so cut surfaces still read.
precision highp float;

in vec3 viewNormal;
in vec3 viewPosition;

uniform vec4 color;
uniform float ambient;
uniform float specular;
uniform float shininess;

out vec4 fragment;

void main() {
    vec3 n = normalize(viewNormal);
    vec3 toEye = normalize(-viewPosition);
    if (dot(n, toEye) < 0.0) n = -n;
    float diffuse = max(dot(n, toEye), 0.0);
    vec3 halfway = toEye;  // the light is at the eye
    float highlight = pow(max(dot(n, halfway), 0.0), shininess) * specular;
    vec3 lit = color.rgb * (ambient + (1.0 - ambient) * diffuse) + vec3(highlight);
    fragment = vec4(min(lit, vec3(1.0)), color.a);
}
