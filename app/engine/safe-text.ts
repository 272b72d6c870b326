// Error messages quote names and cells from untrusted files. Control characters in them would
// reach the terminal (escape sequences), cut a message at its first line (the CLI prints one
// line), or be refused where the message is stored (the history rejects control characters).
// They are shown as \uXXXX instead.

// C0 controls (newline and tab included), DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
