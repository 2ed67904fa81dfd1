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

// Lists: the select-all box, the bulk menu (the quota box only for the quota action) and a
// clear message instead of a post when nothing is ticked. The server says the same without
// this script.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form.js-bulk-form").forEach((form) => {
    const boxes = () => Array.from(form.querySelectorAll("input.js-select"));
    const all = form.querySelector("input.js-select-all");
    if (all) {
      all.hidden = false;
      all.addEventListener("change", () => {
        boxes().forEach((box) => {
          box.checked = all.checked;
        });
      });
      form.addEventListener("change", (event) => {
        if (!event.target.classList.contains("js-select")) return;
        const ticked = boxes().filter((box) => box.checked).length;
        all.checked = ticked > 0 && ticked === boxes().length;
        all.indeterminate = ticked > 0 && ticked < boxes().length;
      });
    }
    const action = form.querySelector("select.js-bulk-action");
    const showFor = Array.from(form.querySelectorAll("[data-show-for]"));
    const sync = () => {
      showFor.forEach((box) => {
        box.hidden = !action || action.value !== box.dataset.showFor;
      });
    };
    if (action) action.addEventListener("change", sync);
    sync();
    const problem = form.querySelector(".js-bulk-problem");
    form.addEventListener("submit", (event) => {
      if (event.submitter && event.submitter.form !== form) return;
      let text = "";
      if (!boxes().some((box) => box.checked)) text = form.dataset.nothingTicked;
      else if (action && !action.value) text = form.dataset.noAction;
      if (text && problem) {
        event.preventDefault();
        problem.textContent = text;
        problem.hidden = false;
      }
    });
  });
});

// "Copy" next to a password shown once.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-copy]").forEach((button) => {
    const field = document.querySelector(button.dataset.copy);
    if (!field || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(field.value);
        button.classList.replace("btn-outline-secondary", "btn-success");
      } catch (error) {
        field.select();
      }
    });
  });
});

// A form that came back with errors: the summary at the top takes the focus (a screen reader
// reads it; its links lead to the fields).
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector(".js-error-summary");
  if (summary) summary.focus();
});

// The mailbox form's "Generate a password": one from the panel's generator, put into both
// password fields and shown (with a Copy button) until the form is saved.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".js-password-generator").forEach((box) => {
    const form = box.closest("form");
    box.hidden = false;
    box.querySelector(".js-generate").addEventListener("click", async () => {
      const failed = box.querySelector(".js-generate-failed");
      try {
        const response = await fetch(box.dataset.url, {
          headers: { "X-Requested-With": "XMLHttpRequest" },
          credentials: "same-origin",
          cache: "no-store",
        });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const { password } = await response.json();
        ["password1", "password2"].forEach((name) => {
          const field = form.querySelector(`input[name=${name}]`);
          if (field) field.value = password;
        });
        box.querySelector("#generated-password").value = password;
        box.querySelector(".js-generated-box").hidden = false;
        failed.hidden = true;
      } catch (error) {
        failed.hidden = false;
      }
    });
  });
});

// The top bar's "More" menu closes on a click elsewhere or on Escape.
document.addEventListener("DOMContentLoaded", () => {
  const menus = Array.from(document.querySelectorAll("details.js-nav-more"));
  document.addEventListener("click", (event) => {
    menus.forEach((menu) => {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    menus.forEach((menu) => {
      menu.open = false;
    });
  });
});
