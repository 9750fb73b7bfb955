// The receipt's print button; ?print=1 (from the window screen) opens the print dialog at once.
const button = document.getElementById("print-receipt");
if (button) {
  button.addEventListener("click", () => window.print());
  if (new URLSearchParams(location.search).get("print") === "1") window.print();
}
