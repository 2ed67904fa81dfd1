// Small behaviours without inline script (the Content-Security-Policy forbids it).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("select.js-autosubmit").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
});

// The captcha's "New image" link: a new challenge without reloading the page (the link's own
// target, the page itself, gives one too when this script does not run or the request fails).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-captcha-refresh]").forEach((link) => {
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      const box = link.closest("[data-captcha]");
      try {
        const response = await fetch(link.dataset.captchaRefresh, {
          headers: { "X-Requested-With": "XMLHttpRequest" },
          credentials: "same-origin",
        });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const challenge = await response.json();
        box.querySelector("[data-captcha-image]").src = challenge.image_url;
        box.querySelector("input[type=hidden]").value = challenge.key;
        if (challenge.audio_url) {
          box.querySelectorAll("[data-captcha-audio]").forEach((audio) => {
            audio.src = challenge.audio_url;
          });
          box.querySelectorAll("[data-captcha-audio] a").forEach((audioLink) => {
            audioLink.href = challenge.audio_url;
          });
        }
        const answer = box.querySelector("input[type=text]");
        answer.value = "";
        answer.focus();
      } catch (error) {
        window.location.assign(window.location.href);
      }
    });
  });
});
