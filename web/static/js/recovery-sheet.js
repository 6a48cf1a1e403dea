// The recovery sheet's print button (the page's script policy allows no inline script).
document.getElementById("print-sheet").addEventListener("click", () => window.print());
